// payments-soak's live subscriptions: StreamTransactions through the
// asynchronous API (payments_v1_PaymentService_StreamTransactions_async).
//
// Every subscription keeps one read pending. Its callbacks run on the
// channel's loop thread: they copy each transaction into the
// subscription's inbox and ask for the next one onto the subscription's
// own arena, reset after each message, so a subscription that lives long
// holds constant memory. The client thread checks the inbox with
// soak_check_txn (a customer's keys are its client's alone, so only that
// thread reads them) and waits on the client's condition variable for
// metadata, a transaction or the end, always for a bounded time. Most
// calls are started with a reference (cpay_call *), released with
// cpay_call_free once on_done came, or earlier to end the call; some
// without one, reachable only in their callbacks (the first read is then
// asked for in on_metadata), ended by a deadline, the channel's close or
// a cancel from their own on_message.
//
// Two kinds. The subscribe actions open one on a customer, wait for its
// initial metadata, charge that customer and wait for each charge to
// arrive, and end it at a random moment: a cancel (from the client thread
// or the call's own callback), cpay_call_free, a short deadline, or
// closing the whole channel. The long-lived ones (WATCHERS per client) stay
// open across the client's other actions, so that the server always holds
// live subscriptions while the mix runs; they are checked, cancelled and
// reopened at random (A_WATCH_CYCLE), when their customer is retired and
// when the channel is dropped. At the end of the run each must hold exactly
// the charges of its customer made since it subscribed. A sentinel charge
// makes that exact: the stream is in charge order, so once the sentinel
// has arrived every earlier charge has too.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "soak.h"

#define BIT(code) (1u << (code))
#define WATCHERS 3
// How long a subscription may take to show what it must (its metadata, a
// charge, its end): far beyond any healthy latency, even under ASan.
#define SUB_WAIT_MS 30000
// A subscription sees each key of its customer at most once, so more than
// this many unchecked transactions is itself wrong.
#define INBOX_CAP (SOAK_KEYS_PER_CUSTOMER + 1)
#define SUB_CHARGES_MAX 6
#define CLOSED_MSG "the channel was closed"
#define SHUTDOWN_MSG "the server is shutting down"

// A transaction as received, copied out of its message (whose arena is
// reset for the next one). A value too long for its buffer is kept cut to
// the buffer's size, which no valid value has, so its check still fails.
typedef struct rx_txn {
  char id[24];
  char customer[48];
  char currency[8];
  uint8_t id_len, customer_len, currency_len;
  int64_t amount_cents;
  int64_t created_at;
} rx_txn;

typedef struct subs subs;

typedef struct sub {
  subs *owner;
  cpay_arena *arena;  // responses are read here, one at a time
  // Set by the client thread before the start, under owner->mu; read by
  // the callbacks under it.
  bool call_arena;        // read onto the call's own arena instead (until on_done)
  bool has_ref;           // started with a reference (`call`)
  uint32_t cancel_after;  // on_message cancels the call at this transaction; 0: never
  char request_id[32];
  cpay_call *call;  // the client thread's reference, until sub_finish or sub_release
  // Written by the callbacks, under owner->mu.
  uint32_t received;  // transactions so far
  bool got_md;      // on_metadata came ...
  size_t md_count;  // ... with this many entries ...
  bool md_echo;     // ... x-request-id echoed among them
  rx_txn inbox[INBOX_CAP];
  size_t inbox_len;
  bool overflow;
  uint32_t newest;  // the largest transaction number received
  bool reading;     // the first read started (so the end is delivered)
  bool eos;         // on_message(NULL): the end of the stream
  bool done;        // on_done came; the fields below are its result
  cpay_grpc_code code;
  char message[200];
  bool trail_echo;  // x-request-id in the trailing metadata
  // The client thread's.
  bool open;   // started, and its end not checked yet
  bool stuck;  // its on_done never came: never started again
  customer *cu;
  txn_walk walk;
  uint32_t floor;  // cu->used at the start: later keys are sent after it
} sub;

struct subs {
  pthread_mutex_t mu;
  pthread_cond_t cv;  // any callback of any of the client's subscriptions
  bool watching;      // long-lived subscribers run (--only permitting)
  sub watch[WATCHERS];
  sub one;   // the subscribe actions'
  sub last;  // open while the server shuts down
};

// ---- callbacks (the channel's loop thread) --------------------------------------

static void copy_str(char *dst, size_t cap, uint8_t *len, cpay_str src) {
  size_t n = src.size < cap ? src.size : cap;
  if (n) memcpy(dst, src.data, n);
  *len = (uint8_t)n;
}

// The arena to read the next response onto (owner->mu held).
static cpay_arena *read_arena(sub *s) { return s->call_arena ? NULL : s->arena; }

static void on_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  sub *s = state;
  cpay_str echo = cpay_md_get(md, count, "x-request-id");
  pthread_mutex_lock(&s->owner->mu);
  s->got_md = true;
  s->md_count = count;
  s->md_echo = cpay_str_eq(echo, cpay_str_from_c(s->request_id));
  // A call without a reference is reachable only here: its first read is
  // asked for now. It starts even when the call is ending (empty
  // metadata): the end of the stream is then delivered.
  bool first_read = !s->has_ref;
  cpay_arena *arena = read_arena(s);
  pthread_mutex_unlock(&s->owner->mu);
  bool reading = first_read &&
                 payments_v1_PaymentService_StreamTransactions_read(call, arena, NULL) == CPAY_OK;
  pthread_mutex_lock(&s->owner->mu);
  if (first_read) s->reading = reading;
  pthread_cond_broadcast(&s->owner->cv);
  pthread_mutex_unlock(&s->owner->mu);
}

static void on_message(void *state, cpay_call *call, payments_v1_Transaction *t) {
  sub *s = state;
  if (!t) {
    pthread_mutex_lock(&s->owner->mu);
    s->eos = true;
    pthread_mutex_unlock(&s->owner->mu);
    return;
  }
  rx_txn r;
  memset(&r, 0, sizeof r);
  copy_str(r.id, sizeof r.id, &r.id_len, t->id);
  copy_str(r.customer, sizeof r.customer, &r.customer_len, t->customer_id);
  copy_str(r.currency, sizeof r.currency, &r.currency_len, t->currency);
  r.amount_cents = t->amount_cents;
  r.created_at = t->created_at_unix;
  uint32_t n = soak_parse_tid(t->id, "txn_");
  pthread_mutex_lock(&s->owner->mu);
  if (s->inbox_len < INBOX_CAP) {
    s->inbox[s->inbox_len++] = r;
  } else {
    s->overflow = true;
  }
  if (n > s->newest) s->newest = n;
  bool cancel = ++s->received == s->cancel_after;
  cpay_arena *arena = read_arena(s);
  pthread_cond_broadcast(&s->owner->cv);
  pthread_mutex_unlock(&s->owner->mu);
  // A cancel from the call's own callback, as a client that has seen
  // enough does: on_done still comes, CANCELLED.
  if (cancel) cpay_call_cancel(call);
  // The message is copied: its memory serves the next one. The read fails
  // only once the call has ended, and on_done follows then.
  if (arena) cpay_arena_reset(arena);
  cpay_code ignored = payments_v1_PaymentService_StreamTransactions_read(call, arena, NULL);
  (void)ignored;
}

static void on_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  (void)call;
  sub *s = state;
  cpay_str trail = cpay_md_get(res->trailing_md, res->trailing_md_count, "x-request-id");
  pthread_mutex_lock(&s->owner->mu);
  s->done = true;
  s->code = res->code;
  snprintf(s->message, sizeof s->message, "%.*s", (int)res->message.size,
           res->message.data ? res->message.data : "");
  s->trail_echo = cpay_str_eq(trail, cpay_str_from_c(s->request_id));
  pthread_cond_broadcast(&s->owner->cv);
  pthread_mutex_unlock(&s->owner->mu);
}

static const payments_v1_PaymentService_StreamTransactions_client_reactor kReactor = {
    .on_message = on_message,
    .on_metadata = on_metadata,
    .on_done = on_done,
};

// ---- the client thread's side ------------------------------------------------------

typedef enum { W_METADATA, W_TXN, W_DONE } wait_for;

// Waits until `s` has its initial metadata (W_METADATA), has received
// transaction `tid` or a later one (W_TXN), or has ended (W_DONE, which
// also ends the other waits). False after SUB_WAIT_MS.
static bool sub_wait(subs *ss, sub *s, wait_for what, uint32_t tid) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += SUB_WAIT_MS / 1000;
  pthread_mutex_lock(&ss->mu);
  bool ok;
  for (;;) {
    ok = s->done || (what == W_METADATA && s->got_md) || (what == W_TXN && s->newest >= tid);
    if (ok || pthread_cond_timedwait(&ss->cv, &ss->mu, &until) == ETIMEDOUT) break;
  }
  ok = s->done || (what == W_METADATA && s->got_md) || (what == W_TXN && s->newest >= tid);
  pthread_mutex_unlock(&ss->mu);
  return ok;
}

static bool sub_done(subs *ss, sub *s) {
  pthread_mutex_lock(&ss->mu);
  bool done = s->done;
  pthread_mutex_unlock(&ss->mu);
  return done;
}

// How a subscription starts. The zero value is the plain one: with a
// reference, no deadline, responses read onto the subscription's arena.
typedef struct sub_plan {
  int64_t timeout_ms;     // as in cpay_call_opts, but 0 too means none
  bool no_ref;            // without a reference: see the top of the file
  bool call_arena;        // responses onto the call's own arena
  uint32_t cancel_after;  // on_message cancels at this transaction; 0: never
} sub_plan;

// Starts `s` on `cu` as `p` says, with its first read when it has a
// reference. False when the call did not start (counted and reported).
static bool sub_start(soak_client *c, sub *s, soak_action a, customer *cu, const sub_plan *p) {
  subs *ss = c->subs;
  if (s->stuck) return false;
  payments_v1_TransactionStreamRequest *req = payments_v1_TransactionStreamRequest_new(c->arena);
  if (!req) return false;
  // All the server still holds of the customer, or what it stored in the
  // last seconds: charges made from now on must stream either way.
  int64_t since = soak_range(c, 0, 2) ? (int64_t)time(NULL) - soak_range(c, 0, 3) : 0;
  req->customer_id = cpay_str_from_c(cu->id);
  req->since_unix = since;
  // The previous call on `s` is over: its on_done has returned.
  cpay_arena_reset(s->arena);
  pthread_mutex_lock(&ss->mu);
  s->call_arena = p->call_arena;
  s->has_ref = !p->no_ref;
  s->cancel_after = p->cancel_after;
  s->call = NULL;
  s->got_md = s->md_echo = s->overflow = s->reading = s->eos = s->done = s->trail_echo = false;
  s->md_count = s->inbox_len = 0;
  s->newest = s->received = 0;
  s->code = CPAY_GRPC_OK;
  s->message[0] = '\0';
  snprintf(s->request_id, sizeof s->request_id, "soak-%d-%" PRIu64, c->index,
           soak_rand(c) % 1000000000);
  cpay_md md = {CPAY_STR("x-request-id"), cpay_str_from_c(s->request_id)};
  cpay_call_opts opts = {.timeout_ms = p->timeout_ms ? p->timeout_ms : -1,
                         .metadata = &md,
                         .metadata_count = 1};
  cpay_status st = {0};
  // The lock is held over the start, so that callbacks see the fields
  // above, and over the first read, which they also change.
  cpay_code rc = payments_v1_PaymentService_StreamTransactions_async(
      c->ch, &opts, req, &kReactor, s, p->no_ref ? NULL : &s->call, &st);
  if (rc == CPAY_OK && s->has_ref) {
    // Fails only when the call has already ended: on_done follows.
    s->reading = payments_v1_PaymentService_StreamTransactions_read(s->call, read_arena(s),
                                                                    NULL) == CPAY_OK;
  }
  pthread_mutex_unlock(&ss->mu);
  if (rc != CPAY_OK) {
    cpay_rpc_result res;
    memset(&res, 0, sizeof res);
    (void)soak_expect(c, a, SOAK_STREAM, rc, &res, &st, 0);
    return false;
  }
  atomic_fetch_add(&soak.subs_opened, 1);
  s->open = true;
  s->cu = cu;
  memset(&s->walk, 0, sizeof s->walk);
  s->walk.since = since;
  s->floor = cu->used;
  return true;
}

// Checks what `s` received since the last time.
static void sub_drain(soak_client *c, sub *s, soak_action a) {
  subs *ss = c->subs;
  rx_txn got[INBOX_CAP];
  pthread_mutex_lock(&ss->mu);
  size_t n = s->inbox_len;
  memcpy(got, s->inbox, n * sizeof *got);
  s->inbox_len = 0;
  bool overflow = s->overflow;
  s->overflow = false;
  pthread_mutex_unlock(&ss->mu);
  for (size_t i = 0; i < n; i++) {
    payments_v1_Transaction t;
    memset(&t, 0, sizeof t);
    t.id = (cpay_str){got[i].id, got[i].id_len};
    t.customer_id = (cpay_str){got[i].customer, got[i].customer_len};
    t.currency = (cpay_str){got[i].currency, got[i].currency_len};
    t.amount_cents = got[i].amount_cents;
    t.created_at_unix = got[i].created_at;
    soak_check_txn(c, a, s->cu, &s->walk, &t);
    atomic_fetch_add(&soak.live_txns, 1);
  }
  if (overflow) {
    atomic_fetch_add(&soak.double_charges, 1);
    soak_wrong(c, a, "subscription of %s received more than %d transactions, but the customer "
               "has only %d keys", s->cu->id, INBOX_CAP, SOAK_KEYS_PER_CUSTOMER);
  }
}

// Waits for the initial metadata: true when it came, echoing the call's
// x-request-id, and the call is on; false when the call ended first (its
// status is checked by sub_finish) or the metadata never came (reported).
static bool sub_confirm(soak_client *c, sub *s, soak_action a) {
  subs *ss = c->subs;
  if (!sub_wait(ss, s, W_METADATA, 0)) {
    soak_wrong(c, a, "subscription of %s: no initial metadata within %d s", s->cu->id,
               SUB_WAIT_MS / 1000);
    return false;
  }
  pthread_mutex_lock(&ss->mu);
  bool got = s->got_md, echo = s->md_echo, done = s->done;
  size_t count = s->md_count;
  pthread_mutex_unlock(&ss->mu);
  if (got && count > 0 && !echo) {
    soak_wrong(c, a, "subscription of %s: the initial metadata (%zu entries) does not echo "
               "x-request-id %s", s->cu->id, count, s->request_id);
  }
  if (!got || done) return false;
  // C-core completes the receipt of the initial metadata empty when the
  // call ends before the server sent any: the end follows.
  if (count == 0) {
    if (!sub_wait(ss, s, W_DONE, 0)) {
      soak_wrong(c, a, "subscription of %s: empty initial metadata, and the call went on",
                 s->cu->id);
    }
    return false;
  }
  return true;
}

// Cancels `s` (a call with a reference; a no-op once it has ended).
static void sub_cancel(sub *s) { cpay_call_cancel(s->call); }

// Releases the reference to `s`, which cancels it if it has not ended;
// its callbacks still come, on_done last.
static void sub_release(sub *s) {
  cpay_call_free(s->call);
  s->call = NULL;
}

// Waits for the end of `s` (it was ended, or is ending), checks the rest of
// its stream, and its status: one of `allowed`, saying `want_msg` when set.
// True when the status is as expected.
static bool sub_finish(soak_client *c, sub *s, soak_action a, uint32_t allowed,
                       const char *want_msg) {
  subs *ss = c->subs;
  if (!sub_wait(ss, s, W_DONE, 0)) {
    // Its callbacks may still use `s`, which is therefore never used
    // again; cpay_channel_free (at the latest in soak_sub_free's caller)
    // cancels the call and waits for its on_done.
    soak_wrong(c, a, "subscription of %s: no on_done within %d s of its end (it is abandoned)",
               s->cu->id, SUB_WAIT_MS / 1000);
    s->stuck = true;
    s->open = false;
    return false;
  }
  sub_release(s);
  sub_drain(c, s, a);
  s->open = false;
  pthread_mutex_lock(&ss->mu);
  cpay_grpc_code code = s->code;
  char msg[sizeof s->message];
  memcpy(msg, s->message, sizeof msg);
  bool eos = s->eos || !s->reading;
  pthread_mutex_unlock(&ss->mu);
  cpay_rpc_result res;
  memset(&res, 0, sizeof res);
  res.code = code;
  res.message = cpay_str_from_c(msg);
  cpay_status st = {0};
  if (!soak_expect(c, a, SOAK_STREAM, cpay_grpc_code_to_cpay(code), &res, &st, allowed)) {
    return false;
  }
  if (!eos) {
    soak_wrong(c, a, "subscription of %s ended %s without the end of the stream (on_message "
               "NULL) though a read was pending", s->cu->id, cpay_grpc_code_name(code));
  }
  if (want_msg && strcmp(msg, want_msg) != 0) {
    soak_wrong(c, a, "subscription of %s ended %s '%s', expected '%s'", s->cu->id,
               cpay_grpc_code_name(code), msg, want_msg);
    return false;
  }
  return true;
}

static bool seen(const sub *s, uint32_t idx) {
  return s->walk.seen[idx / 8] & (1u << (idx % 8));
}

// Every key of the customer first sent after `s` started (from s->floor up
// to `upto`) that the client knows was charged must have streamed.
static bool sub_require(soak_client *c, sub *s, soak_action a, uint32_t upto) {
  bool ok = true;
  for (uint32_t i = s->floor; i < upto; i++) {
    const key_rec *k = &s->cu->keys[i];
    if ((k->state != K_CHARGED && k->state != K_APPLIED) || seen(s, i)) continue;
    ok = false;
    char how[32] = "by a batch";
    if (k->tid) snprintf(how, sizeof how, "as txn_%06" PRIu32, k->tid);
    soak_wrong(c, a, "subscription of %s (from key k%" PRIu32 ", since %" PRId64 "): key k%" PRIu32
               " was charged (%s) but never streamed", s->cu->id, s->floor, s->walk.since, i,
               how);
  }
  return ok;
}

// Waits until the charge of key `idx`, transaction `tid`, has arrived on
// `s`. False when the call ended first (its status tells whether that is
// right) or the charge never came (reported).
static bool sub_await(soak_client *c, sub *s, soak_action a, uint32_t idx, uint32_t tid) {
  if (!sub_wait(c->subs, s, W_TXN, tid)) {
    soak_wrong(c, a, "subscription of %s: txn_%06" PRIu32 " (key k%" PRIu32 ") did not arrive "
               "within %d s of its charge", s->cu->id, tid, idx, SUB_WAIT_MS / 1000);
    return false;
  }
  sub_drain(c, s, a);
  if (seen(s, idx)) {
    atomic_fetch_add(&soak.charges_awaited, 1);
    return true;
  }
  if (!sub_done(c->subs, s)) {
    soak_wrong(c, a, "subscription of %s: txn_%06" PRIu32 " (key k%" PRIu32 ") was passed over: "
               "a later transaction arrived instead", s->cu->id, tid, idx);
  }
  return false;
}

// Charges a sentinel for the customer of `s` (when `keep` keys stay free
// for later) and waits for it: then `s` must hold exactly the customer's
// charges since it started. False when that could not be checked: no key
// left, the call ended (its status is checked by sub_finish), a failure
// already reported.
static bool sub_exact(soak_client *c, sub *s, soak_action a, uint32_t keep) {
  customer *cu = s->cu;
  if (cu->used + 1 + keep > SOAK_KEYS_PER_CUSTOMER) return false;
  uint32_t idx;
  uint32_t tid = soak_charge_key(c, a, cu, false, &idx);
  if (!tid || !sub_await(c, s, a, idx, tid)) return false;
  if (sub_require(c, s, a, cu->used)) atomic_fetch_add(&soak.exact_checks, 1);
  return true;
}

// ---- long-lived subscribers ---------------------------------------------------------

static bool action_on(soak_action a) {
  return !soak.opts.only || (soak.opts.only & (1u << a));
}

static const sub_plan kWatchPlan;  // with a reference, no deadline

// Opens watcher `w` on a random active customer and waits until it is on.
static void watch_open(soak_client *c, sub *w) {
  customer *cu = c->active[soak_range(c, 0, SOAK_CUSTOMERS_PER_CLIENT - 1)];
  if (!sub_start(c, w, A_WATCH_CYCLE, cu, &kWatchPlan)) return;
  atomic_fetch_add(&soak.watchers_opened, 1);
  if (!sub_confirm(c, w, A_WATCH_CYCLE)) {
    // It ended before it was on (nothing ends a watcher but the client),
    // or never came on (reported).
    sub_cancel(w);
    sub_finish(c, w, A_WATCH_CYCLE, 0, NULL);
  }
}

// Ends `s`, a call with a reference: cancelled, or its reference released
// at once (which cancels it too), at random. Then its end is checked.
static void sub_end(soak_client *c, sub *s, soak_action a) {
  if (soak_range(c, 0, 1)) {
    sub_cancel(s);
  } else {
    sub_release(s);
  }
  sub_finish(c, s, a, BIT(CPAY_GRPC_CANCELLED), NULL);
}

// Ends watcher `w`, after the exact check when `exact` (with `keep` keys
// left free); it is opened again before the next action.
static void watch_close(soak_client *c, sub *w, soak_action a, bool exact, uint32_t keep) {
  if (exact) (void)sub_exact(c, w, a, keep);
  sub_end(c, w, a);
}

bool soak_sub_init(soak_client *c) {
  subs *ss = calloc(1, sizeof *ss);
  if (!ss) {
    fprintf(stderr, "payments-soak: out of memory for subscriptions\n");
    return false;
  }
  pthread_mutex_init(&ss->mu, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&ss->cv, &attr);
  pthread_condattr_destroy(&attr);
  ss->watching = action_on(A_WATCH_CYCLE);
  c->subs = ss;
  sub *all[WATCHERS + 2] = {&ss->one, &ss->last};
  for (int i = 0; i < WATCHERS; i++) all[2 + i] = &ss->watch[i];
  for (int i = 0; i < WATCHERS + 2; i++) {
    all[i]->owner = ss;
    all[i]->arena = cpay_arena_new();
    if (!all[i]->arena) {
      fprintf(stderr, "payments-soak: out of memory for an arena\n");
      return false;
    }
  }
  return true;
}

void soak_sub_tend(soak_client *c) {
  subs *ss = c->subs;
  if (!ss->watching) return;
  for (int i = 0; i < WATCHERS; i++) {
    sub *w = &ss->watch[i];
    if (w->open) {
      sub_drain(c, w, A_WATCH_CYCLE);
      // Nothing but the client ends a watcher during the run.
      if (sub_done(ss, w)) sub_finish(c, w, A_WATCH_CYCLE, 0, NULL);
    }
    if (!w->open) watch_open(c, w);
  }
}

void soak_sub_watch_cycle(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_WATCH_CYCLE], 1);
  subs *ss = c->subs;
  sub *w = &ss->watch[soak_range(c, 0, WATCHERS - 1)];
  if (!w->open) return;  // it failed to open (reported); the next step tries again
  switch (soak_range(c, 0, 2)) {
    case 0:  // checked exactly, then ended (a final check and a sentinel stay possible)
      watch_close(c, w, A_WATCH_CYCLE, true, 2);
      break;
    case 1:  // ended mid-stream: what was in flight is lost, what came is checked
      watch_close(c, w, A_WATCH_CYCLE, false, 0);
      break;
    default:  // cancelled, then reopened and ended again before it is on
      watch_close(c, w, A_WATCH_CYCLE, false, 0);
      if (!sub_start(c, w, A_WATCH_CYCLE, w->cu, &kWatchPlan)) break;
      if (soak_range(c, 0, 1)) soak_sleep_ms(soak_range(c, 0, 3));
      sub_end(c, w, A_WATCH_CYCLE);
      break;
  }
  watch_open(c, w);
}

void soak_sub_customer_retired(soak_client *c, customer *cu) {
  subs *ss = c->subs;
  for (int i = 0; ss && i < WATCHERS; i++) {
    sub *w = &ss->watch[i];
    if (w->open && w->cu == cu) watch_close(c, w, A_WATCH_CYCLE, soak_range(c, 0, 1), 1);
  }
}

void soak_sub_channel_closed(soak_client *c, soak_action a) {
  subs *ss = c->subs;
  sub *all[WATCHERS + 1] = {&ss->one};
  for (int i = 0; i < WATCHERS; i++) all[1 + i] = &ss->watch[i];
  for (int i = 0; i < WATCHERS + 1; i++) {
    sub *s = all[i];
    if (!s->open) continue;
    // cpay_channel_free returns after the on_done of the calls it ended.
    if (!sub_done(ss, s)) {
      soak_wrong(c, a, "cpay_channel_free returned before the on_done of a subscription of %s "
                 "on the channel", s->cu->id);
    }
    sub_finish(c, s, a, BIT(CPAY_GRPC_CANCELLED), CLOSED_MSG);
  }
}

void soak_sub_final_check(soak_client *c) {
  subs *ss = c->subs;
  if (!ss) return;
  // One sentinel serves every subscriber of its customer (watchers may
  // share one): the first of them charges it, the others wait for it too.
  const customer *done_cu[WATCHERS];
  uint32_t done_idx[WATCHERS], done_tid[WATCHERS];
  int done = 0;
  for (int i = 0; i < WATCHERS; i++) {
    sub *w = &ss->watch[i];
    if (!w->open) continue;
    sub_drain(c, w, A_WATCH_CYCLE);
    int d = 0;
    while (d < done && done_cu[d] != w->cu) d++;
    if (d == done) {
      done_cu[done] = w->cu;
      done_tid[done] = 0;
      // soak_pick_customer keeps keys free for this (SOAK_KEYS_RESERVED).
      if (w->cu->used + 2 > SOAK_KEYS_PER_CUSTOMER) {
        soak_wrong(c, A_WATCH_CYCLE, "no key of %s left for the final check of its subscribers",
                   w->cu->id);
      } else {
        done_tid[done] = soak_charge_key(c, A_WATCH_CYCLE, w->cu, false, &done_idx[done]);
      }
      done++;
    }
    // A failure to get there is reported, or the status shows it.
    if (done_tid[d] && sub_await(c, w, A_WATCH_CYCLE, done_idx[d], done_tid[d]) &&
        sub_require(c, w, A_WATCH_CYCLE, w->cu->used)) {
      atomic_fetch_add(&soak.exact_checks, 1);
    }
    sub_end(c, w, A_WATCH_CYCLE);
  }
}

// ---- the subscribe actions -------------------------------------------------------------

void soak_sub_subscribe(soak_client *c, soak_action a) {
  atomic_fetch_add(&soak.actions[a], 1);
  subs *ss = c->subs;
  sub *s = &ss->one;
  customer *cu = soak_pick_customer(c);
  int n = (int)soak_range(c, 1, SUB_CHARGES_MAX);
  // The end comes after `at` charges (-1: before the metadata), and the
  // last charge is waited for unless `skip_last`; some are declined.
  int at = n;
  bool skip_last = false, declines = true;
  sub_plan plan = {.call_arena = soak_range(c, 0, 1)};
  uint32_t allowed = BIT(CPAY_GRPC_CANCELLED);
  if (a == A_SUB_CANCEL || a == A_SUB_CLOSE) {
    at = (int)soak_range(c, -1, n);
    skip_last = soak_range(c, 0, 1);
    plan.no_ref = a == A_SUB_CLOSE && soak_range(c, 0, 1);
    if (a == A_SUB_CANCEL && soak_range(c, 0, 3) == 0) {
      // Or the call's own on_message cancels it, at one of its
      // transactions (stored ones first, then the charges). Without a
      // reference nothing else can: every charge streams and is waited
      // for, so that it comes to that.
      at = n;
      skip_last = declines = false;
      plan.cancel_after = (uint32_t)soak_range(c, 1, n);
      plan.no_ref = soak_range(c, 0, 1);
    }
  } else if (a == A_SUB_DEADLINE) {
    n = at = SUB_CHARGES_MAX;
    // Mostly mid-stream; sometimes before the server has even answered.
    plan.timeout_ms = soak_range(c, 0, 3) ? soak_range(c, 20, 400) : soak_range(c, 1, 10);
    plan.no_ref = soak_range(c, 0, 1);
    allowed = BIT(CPAY_GRPC_DEADLINE_EXCEEDED);
  }
  if (!sub_start(c, s, a, cu, &plan)) return;
  uint32_t required = cu->used;  // keys up to here must have streamed
  bool on = at >= 0 && sub_confirm(c, s, a);
  for (int i = 0; i < at && on; i++) {
    bool declined = declines && soak_range(c, 0, 4) == 0;  // must not stream
    uint32_t idx;
    uint32_t tid = soak_charge_key(c, a, cu, declined, &idx);
    if (!tid || declined || (i == at - 1 && skip_last)) continue;
    on = sub_await(c, s, a, idx, tid);
    if (on) required = cu->used;
  }
  if (a == A_SUB_CLOSE) {
    cpay_channel_free(c->ch);
    c->ch = NULL;
    soak_sub_channel_closed(c, a);
    c->ch = soak_new_channel(c, c->target);
  } else if (a == A_SUB_DEADLINE || plan.cancel_after) {
    sub_finish(c, s, a, allowed, NULL);  // it ends by itself
  } else {
    sub_end(c, s, a);
  }
  sub_require(c, s, a, required);
}

// ---- the server's shutdown -------------------------------------------------------------

void soak_sub_shutdown_open(soak_client *c) {
  subs *ss = c->subs;
  if (!ss || !action_on(A_SUB_SHUTDOWN)) return;
  atomic_fetch_add(&soak.actions[A_SUB_SHUTDOWN], 1);
  sub *s = &ss->last;
  sub_plan plan = {.no_ref = soak_range(c, 0, 1)};
  customer *cu = c->active[soak_range(c, 0, SOAK_CUSTOMERS_PER_CLIENT - 1)];
  if (sub_start(c, s, A_SUB_SHUTDOWN, cu, &plan) && !sub_confirm(c, s, A_SUB_SHUTDOWN)) {
    sub_cancel(s);  // when it never came on (reported)
    sub_finish(c, s, A_SUB_SHUTDOWN, 0, NULL);  // nothing may end it before the shutdown
  }
}

void soak_sub_shutdown_check(soak_client *c) {
  subs *ss = c->subs;
  if (!ss || !ss->last.open) return;
  sub *s = &ss->last;
  if (sub_finish(c, s, A_SUB_SHUTDOWN, BIT(CPAY_GRPC_UNAVAILABLE), SHUTDOWN_MSG) &&
      !s->trail_echo) {
    soak_wrong(c, A_SUB_SHUTDOWN, "subscription of %s ended UNAVAILABLE without x-request-id %s "
               "in the trailing metadata", s->cu->id, s->request_id);
  }
}

void soak_sub_free(soak_client *c) {
  subs *ss = c->subs;
  if (!ss) return;
  // The channel is freed: every call has had its on_done. References still
  // held (a run cut short, an abandoned call) are released.
  sub *all[WATCHERS + 2] = {&ss->one, &ss->last};
  for (int i = 0; i < WATCHERS; i++) all[2 + i] = &ss->watch[i];
  for (int i = 0; i < WATCHERS + 2; i++) {
    sub_release(all[i]);
    cpay_arena_free(all[i]->arena);
  }
  pthread_cond_destroy(&ss->cv);
  pthread_mutex_destroy(&ss->mu);
  free(ss);
  c->subs = NULL;
}
