// The call core under client and server calls: the order of completions,
// references, batches, the queue of written messages with its bound, ready
// signal and stall timer, reads, and the waiting of blocking operations.
// cpay__op_run runs the completions of one call one at a time, so the op
// functions here never run concurrently for a call; the lock orders them
// against the application's threads (writes, finish, cancel from
// anywhere). No callback into the application runs with the lock held.
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/internal.h"

static void on_send(cpay__op *op, bool ok);
static void on_read(cpay__op *op, bool ok);
static void on_kick(cpay__op *op, bool ok);
static void on_stall(cpay__timer *t);

void cpay__rpc_init(cpay__rpc *r, const cpay__rpc_vt *vt, cpay_arena *arena, size_t q_limit,
                    int64_t stall_ms) {
  r->vt = vt;
  pthread_mutex_init(&r->mu, NULL);
  cpay__cond_init_monotonic(&r->cv);
  atomic_init(&r->refs, 1);
  r->arena = arena;
  r->q_limit = q_limit ? q_limit : CPAY_DEFAULT_SEND_QUEUE_BYTES;
  r->stall_ms = stall_ms;
  r->op_send = (cpay__op){.fn = on_send, .rpc = r};
  r->op_read = (cpay__op){.fn = on_read, .rpc = r};
  r->op_kick = (cpay__op){.fn = on_kick, .rpc = r};
  r->stall.fn = on_stall;
}

static void drop_queue(cpay__rpc *r) {
  // The message being sent belongs to C-core until its batch completes.
  size_t first = r->sending ? 1 : 0;
  for (size_t i = first; i < r->q_len; i++) {
    grpc_byte_buffer *bb = r->q[(r->q_head + i) % r->q_cap];
    r->q_bytes -= grpc_byte_buffer_length(bb);
    grpc_byte_buffer_destroy(bb);
  }
  r->q_len = first;
}

void cpay__rpc_destroy(cpay__rpc *r) {
  drop_queue(r);
  if (r->q_len) {  // never: a batch in flight holds a reference
    grpc_byte_buffer_destroy(r->q[r->q_head]);
  }
  free(r->q);
  if (r->read_bb) grpc_byte_buffer_destroy(r->read_bb);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
}

// The call whose completions this thread runs now, or NULL.
static _Thread_local cpay__rpc *tl_running;

cpay__rpc *cpay__rpc_running(void) { return tl_running; }

void cpay__op_run(cpay__op *op, bool ok) {
  cpay__rpc *r = op->rpc;
  if (!r) {
    op->fn(op, ok);
    return;
  }
  op->ok = ok;
  op->next = NULL;
  pthread_mutex_lock(&r->mu);
  if (r->running) {
    // Another thread runs this call's completions: it runs this one after
    // them, so the call's callbacks never overlap.
    if (r->pending_tail) {
      r->pending_tail->next = op;
    } else {
      r->pending_head = op;
    }
    r->pending_tail = op;
    pthread_mutex_unlock(&r->mu);
    return;
  }
  r->running = true;
  cpay__rpc_ref(r);  // the call outlives the function of its last completion
  cpay__rpc *outer = tl_running;
  tl_running = r;
  for (;;) {
    pthread_mutex_unlock(&r->mu);
    op->fn(op, op->ok);
    pthread_mutex_lock(&r->mu);
    op = r->pending_head;
    if (!op) break;
    r->pending_head = op->next;
    if (!r->pending_head) r->pending_tail = NULL;
  }
  r->running = false;
  tl_running = outer;
  pthread_mutex_unlock(&r->mu);
  cpay__rpc_unref(r);
}

void cpay__rpc_ref(cpay__rpc *r) { atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed); }

void cpay__rpc_unref(cpay__rpc *r) {
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) r->vt->free(r);
}

bool cpay__rpc_start_batch(cpay__rpc *r, const grpc_op *ops, size_t n, cpay__op *op) {
  if (r->ended) return false;
  if (grpc_call_start_batch(r->call, ops, n, op, NULL) != GRPC_CALL_OK) return false;
  r->batches++;
  cpay__rpc_ref(r);
  return true;
}

bool cpay__rpc_post(cpay__rpc *r, cpay__op *op) { return cpay__rpc_start_batch(r, NULL, 0, op); }

void cpay__rpc_batch_end(cpay__rpc *r) {
  pthread_mutex_lock(&r->mu);
  // The op functions wake the waiters for what they changed; this wakes
  // those waiting for every batch to end.
  if (--r->batches == 0) cpay__rpc_wake(r);
  pthread_mutex_unlock(&r->mu);
  r->vt->batch_done(r);
  cpay__rpc_unref(r);
}

void cpay__rpc_wake(cpay__rpc *r) {
  if (r->waiters) pthread_cond_broadcast(&r->cv);
}

// ---- stalls --------------------------------------------------------------------

// Whether the producer is held back by the peer; mu held.
static bool held_back(const cpay__rpc *r) {
  return r->q_len > 0 && (r->want_ready || r->room_waiters > 0 || r->closing);
}

// Disarms the stall timer; mu held. Its reference is never the last here:
// whoever acts on the call holds one of its own.
static void stall_disarm(cpay__rpc *r) {
  if (r->stall_armed && cpay__timer_disarm(r->loop, &r->stall)) {
    r->stall_armed = false;
    atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel);
  }
}

void cpay__rpc_end(cpay__rpc *r) {
  r->ended = true;
  stall_disarm(r);
}

// Ends a stalled call; mu held.
static void stall_end(cpay__rpc *r, int64_t now) {
  grpc_call_cancel_with_status(r->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                               "the peer read nothing while messages were queued for it "
                               "(send_stall_timeout_ms)",
                               NULL);
  r->stalled = true;
  r->stall_for = now - r->stall_from;
  cpay__rpc_fail_sends(r);
}

bool cpay__rpc_kick(cpay__rpc *r) {
  if (!r->kick_pending) r->kick_pending = cpay__rpc_post(r, &r->op_kick);
  return r->kick_pending;
}

static void stall_arm(cpay__rpc *r) {
  r->stall_armed = true;
  cpay__rpc_ref(r);
  int armed = cpay__timer_arm(r->loop, &r->stall, r->stall_from + r->stall_ms);
  if (armed < 0) {  // out of memory: only a blocking writer sees the stall
    r->stall_armed = false;
    atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel);
  } else if (armed > 0) {
    // The loop's threads sleep until a later time: wake one to see this.
    (void)cpay__rpc_kick(r);
  }
}

// Restarts the stall clock: now, at the count of messages sent. mu held.
static void stall_restart(cpay__rpc *r, int64_t now) {
  r->stall_from = now;
  r->stall_mark = r->sent_ok;
}

// The producer is now held back; starts the stall clock (and, on a loop,
// the timer) unless it runs. mu held.
static void stall_watch(cpay__rpc *r) {
  if (r->stall_ms <= 0 || r->send_failed || r->ended) return;
  if (!r->stall_from) stall_restart(r, cpay__now_ms());
  if (r->loop && !r->stall_armed) stall_arm(r);
}

// Whether the call has stalled by `now`: when sends completed since the
// clock started, it starts again (no clock is read per message sent; a
// stall is seen between one and two stall_ms after the last send). mu held.
static bool stalled_by(cpay__rpc *r, int64_t now) {
  if (r->sent_ok != r->stall_mark) {
    stall_restart(r, now);
    return false;
  }
  return now - r->stall_from >= r->stall_ms;
}

// A send completed; a producer no longer held back stops the clock. mu held.
static void stall_progress(cpay__rpc *r) {
  if (r->stall_from && (!held_back(r) || r->send_failed)) {
    r->stall_from = 0;
    stall_disarm(r);
  }
}

static void on_kick(cpay__op *op, bool ok) {
  (void)ok;
  cpay__rpc *r = CPAY__CONTAINER_OF(op, cpay__rpc, op_kick);
  pthread_mutex_lock(&r->mu);
  r->kick_pending = false;
  pthread_mutex_unlock(&r->mu);
  cpay__rpc_batch_end(r);
}

static void on_stall(cpay__timer *t) {
  cpay__rpc *r = CPAY__CONTAINER_OF(t, cpay__rpc, stall);
  pthread_mutex_lock(&r->mu);
  r->stall_armed = false;
  if (!held_back(r) || r->send_failed || r->ended) {
    r->stall_from = 0;
  } else if (r->stall_from) {
    int64_t now = cpay__now_ms();
    if (stalled_by(r, now)) {
      stall_end(r, now);
    } else {
      stall_arm(r);  // sends completed meanwhile: wait again from now
    }
  }
  pthread_mutex_unlock(&r->mu);
  cpay__rpc_unref(r);
}

// ---- sending -------------------------------------------------------------------

static void start_send(cpay__rpc *r) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = r->vt->before_send ? r->vt->before_send(r, ops) : 0;
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  // More is queued behind it: C-core may hold this one back (up to its
  // write buffer) and send them together, rather than write the socket
  // once per message. The last one queued flushes.
  ops[n].flags = r->q_len > 1 ? GRPC_WRITE_BUFFER_HINT : 0;
  ops[n++].data.send_message.send_message = r->q[r->q_head];
  r->sending = true;
  r->sending_bytes = grpc_byte_buffer_length(r->q[r->q_head]);
  if (!cpay__rpc_start_batch(r, ops, n, &r->op_send)) {
    r->sending = false;
    cpay__rpc_fail_sends(r);
  }
}

void cpay__rpc_fail_sends(cpay__rpc *r) {
  r->send_failed = true;
  drop_queue(r);
  stall_disarm(r);
  cpay__rpc_wake(r);
}

void cpay__rpc_close(cpay__rpc *r) {
  if (r->closing) return;
  r->closing = true;
  if (!r->sending) r->vt->drained(r);
  if (held_back(r)) stall_watch(r);
  cpay__rpc_wake(r);
}

static void on_send(cpay__op *op, bool ok) {
  cpay__rpc *r = CPAY__CONTAINER_OF(op, cpay__rpc, op_send);
  pthread_mutex_lock(&r->mu);
  r->q_bytes -= r->sending_bytes;
  grpc_byte_buffer_destroy(r->q[r->q_head]);
  r->q_head = (r->q_head + 1) % r->q_cap;
  r->q_len--;
  r->sending = false;
  if (ok) r->sent_ok++;
  if (!ok) {
    cpay__rpc_fail_sends(r);
  } else if (r->q_len) {
    start_send(r);
  } else if (r->closing) {
    r->vt->drained(r);
  }
  // Room again at half the bound, so that a producer refills in batches
  // rather than one message per completion.
  bool half = r->q_bytes <= r->q_limit / 2;
  bool ready = r->want_ready && !r->send_failed && half;
  if (ready) r->want_ready = false;
  stall_progress(r);
  // A writer waiting for room is woken at half the bound too, and refills
  // in a batch: not one wake-up per message sent.
  if (!r->room_waiters || half || r->send_failed || r->closing) cpay__rpc_wake(r);
  pthread_mutex_unlock(&r->mu);
  if (ready && r->vt->ready) r->vt->ready(r);
  cpay__rpc_batch_end(r);
}

static bool has_room(cpay__rpc *r, void *arg) {
  (void)arg;
  return r->q_bytes < r->q_limit || r->send_failed || r->closing;
}

// Whether the message numbered *arg (r->pushed when it was queued) is
// sent, or can no longer be.
static bool sent(cpay__rpc *r, void *arg) {
  return r->sent_ok >= *(uint64_t *)arg || r->send_failed;
}

static bool push(cpay__rpc *r, grpc_byte_buffer *bb) {
  if (r->q_len == r->q_cap) {
    size_t cap = r->q_cap ? r->q_cap * 2 : 4;
    grpc_byte_buffer **q = malloc(cap * sizeof *q);
    if (!q) return false;
    for (size_t i = 0; i < r->q_len; i++) q[i] = r->q[(r->q_head + i) % r->q_cap];
    free(r->q);
    r->q = q;
    r->q_head = 0;
    r->q_cap = cap;
  }
  r->q[(r->q_head + r->q_len) % r->q_cap] = bb;
  r->q_len++;
  r->pushed++;
  r->q_bytes += grpc_byte_buffer_length(bb);
  if (!r->sending) start_send(r);
  return true;
}

// Why writes fail once the call has ended.
static cpay_code ended_error(cpay__rpc *r, cpay_status *st) {
  if (r->stalled) {
    return cpay_status_set(st, CPAY_ERR_RESOURCE_EXHAUSTED,
                           "the peer read nothing for %lld ms: the call was ended",
                           (long long)r->stall_for);
  }
  return cpay_status_set(st, CPAY_ERR_CANCELLED, "the call has ended");
}

// Waits for room as `wait` says and queues `bb`; mu held. On failure `bb`
// is still the caller's.
static cpay_code queue_one(cpay__rpc *r, grpc_byte_buffer *bb, cpay__write_wait wait,
                           cpay_status *st) {
  for (;;) {
    if (r->closing) {
      return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                             "write after the sending side was closed");
    }
    if (r->send_failed) return ended_error(r, st);
    if (r->q_bytes < r->q_limit) break;
    if (r->stall_from) {
      int64_t now = cpay__now_ms();
      if (stalled_by(r, now)) {
        stall_end(r, now);
        return ended_error(r, st);
      }
    }
    if (wait == CPAY__WRITE_NOWAIT) {
      r->want_ready = true;
      stall_watch(r);
      return cpay_status_set(st, CPAY_ERR_WOULD_BLOCK, "the send queue is full (%zu bytes)",
                             r->q_bytes);
    }
    r->room_waiters++;
    stall_watch(r);
    int64_t until = r->stall_from ? r->stall_from + r->stall_ms : 0;
    (void)cpay__rpc_wait(r, has_room, NULL, until);
    r->room_waiters--;
  }
  if (!push(r, bb)) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for the send queue");
  }
  if (r->stall_from && !held_back(r)) {  // a waiting writer got its room
    r->stall_from = 0;
    stall_disarm(r);
  }
  return CPAY_OK;
}

cpay_code cpay__rpc_write(cpay__rpc *r, const void *msg, cpay__write_wait wait, cpay_status *st) {
  grpc_byte_buffer *bb;
  cpay_code code = cpay__msg_to_bb(msg, r->send_t, &bb, st);
  if (code != CPAY_OK) return code;
  if (wait != CPAY__WRITE_NOWAIT && !r->private_cq && cpay__on_event_thread()) {
    wait = CPAY__WRITE_NOWAIT;  // waiting here would stall the loop's other calls
  }
  pthread_mutex_lock(&r->mu);
  code = queue_one(r, bb, wait, st);
  if (code != CPAY_OK) {
    grpc_byte_buffer_destroy(bb);
  } else if (wait == CPAY__WRITE_FOR_SENT) {
    // Queued, the buffer is the queue's; a failure now is the end of the
    // call, which its status explains.
    uint64_t mine = r->pushed;
    (void)cpay__rpc_wait(r, sent, &mine, 0);
    if (r->sent_ok < mine) code = ended_error(r, st);
  }
  pthread_mutex_unlock(&r->mu);
  return code;
}

// ---- reading -------------------------------------------------------------------

cpay_code cpay__rpc_read_locked(cpay__rpc *r, cpay_arena *arena, cpay_status *st) {
  if (r->reading) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "a read is already pending");
  }
  r->reading = true;
  r->read_arena = arena ? arena : r->arena;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &r->read_bb;
  // After the end of the stream an empty batch delivers the end again.
  if (!cpay__rpc_start_batch(r, &op, r->read_eos ? 0 : 1, &r->op_read)) {
    r->reading = false;
    return cpay_status_set(st, CPAY_ERR_CANCELLED, "the call has ended");
  }
  return CPAY_OK;
}

cpay_code cpay__rpc_read(cpay__rpc *r, cpay_arena *arena, cpay_status *st) {
  pthread_mutex_lock(&r->mu);
  cpay_code code = cpay__rpc_read_locked(r, arena, st);
  pthread_mutex_unlock(&r->mu);
  return code;
}

static void on_read(cpay__op *op, bool ok) {
  cpay__rpc *r = CPAY__CONTAINER_OF(op, cpay__rpc, op_read);
  grpc_byte_buffer *bb = r->read_bb;
  r->read_bb = NULL;
  void *msg = NULL;
  cpay_code code = CPAY_OK;
  cpay_status err = {0};
  if (ok && bb) code = cpay__bb_to_msg(bb, r->recv_t, r->read_arena, &msg, &err);
  if (bb) grpc_byte_buffer_destroy(bb);
  pthread_mutex_lock(&r->mu);
  r->reading = false;
  if (!msg) r->read_eos = true;
  if (!ok) r->read_broken = true;
  pthread_mutex_unlock(&r->mu);
  r->vt->read_done(r, msg, code, &err);
  cpay__rpc_batch_end(r);
}

// ---- waiting -------------------------------------------------------------------

bool cpay__rpc_wait(cpay__rpc *r, bool (*pred)(cpay__rpc *r, void *arg), void *arg,
                    int64_t deadline_ms) {
  while (!pred(r, arg)) {
    int64_t now = cpay__now_ms();
    if (deadline_ms && now >= deadline_ms) return false;
    if (r->private_cq && !r->polling) {
      // Lead: take one completion off the call's queue and run it; the
      // followers sleep on cv and are woken after each.
      r->polling = true;
      pthread_mutex_unlock(&r->mu);
      gpr_timespec until = deadline_ms ? cpay__deadline_in(deadline_ms - now)
                                       : gpr_inf_future(GPR_CLOCK_MONOTONIC);
      grpc_event ev = grpc_completion_queue_next(r->cq, until, NULL);
      if (ev.type == GRPC_OP_COMPLETE) cpay__op_run(ev.tag, ev.success != 0);
      pthread_mutex_lock(&r->mu);
      r->polling = false;
      pthread_cond_broadcast(&r->cv);
    } else {
      r->waiters++;
      if (deadline_ms) {
        struct timespec ts = cpay__abs_monotonic(deadline_ms);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
      } else {
        pthread_cond_wait(&r->cv, &r->mu);
      }
      r->waiters--;
    }
  }
  return true;
}
