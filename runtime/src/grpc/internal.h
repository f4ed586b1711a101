// Private helpers shared by libcpay-grpc's files: completion tags, event
// loops, the call core that client and server calls are built on (rpc.c),
// metadata conversion, message <-> byte buffer, deadlines, rich status.
#ifndef CPAY_SRC_GRPC_INTERNAL_H_
#define CPAY_SRC_GRPC_INTERNAL_H_

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>

#include "cpay/grpc.h"
#include "grpc/bridge.h"

#define CPAY__CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

// ---- completion tags (loop.c) -----------------------------------------------

typedef struct cpay__rpc cpay__rpc;

// Every tag given to C-core is a cpay__op: whoever takes the completion off
// the queue passes it to cpay__op_run, which runs op->fn(op, success).
typedef struct cpay__op cpay__op;
typedef void cpay__op_fn(cpay__op *op, bool ok);
struct cpay__op {
  cpay__op_fn *fn;
  // The call it completes for, or NULL (a request for a new call): the
  // completions of one call run one at a time, in the order taken.
  cpay__rpc *rpc;
  bool ok;         // waiting to run: its success
  cpay__op *next;  // in rpc's pending list
};

// Runs a completion: at once, or, when another thread is running the same
// call's completions, after them on that thread (rpc.c).
void cpay__op_run(cpay__op *op, bool ok);
// The call whose completions the calling thread runs now, or NULL.
cpay__rpc *cpay__rpc_running(void);

// A timer of a loop: `fn` runs once, on one of the loop's threads, after
// `at` (cpay__now_ms) has passed, unless disarmed first. Its owner keeps it
// alive until it is disarmed or `fn` has run.
typedef struct cpay__timer cpay__timer;
struct cpay__timer {
  void (*fn)(cpay__timer *t);
  int64_t at;
  size_t idx;  // in the loop's heap, while armed
  bool armed;
  cpay__timer *next_due;  // in the list of timers about to run
};
// Arms `t` (not armed yet) for `at`: 1 when it is now the loop's earliest
// timer (the threads sleep until a later one: the caller wakes one, with
// an empty batch on a call of the loop), 0 otherwise, -1 when out of
// memory (not armed).
int cpay__timer_arm(cpay_loop *l, cpay__timer *t, int64_t at);
// Disarms `t`: true when it was armed, and so will not run.
bool cpay__timer_disarm(cpay_loop *l, cpay__timer *t);

// A loop whose queue exists but whose threads start with cpay__loop_start
// (idempotent, thread-safe). threads 0: one per online CPU.
cpay_loop *cpay__loop_new(int threads, cpay_status *st);
cpay_code cpay__loop_start(cpay_loop *l, cpay_status *st);
int cpay__loop_threads(const cpay_loop *l);
// The queue its threads share, for new calls and a server's requests.
grpc_completion_queue *cpay__loop_cq(const cpay_loop *l);
// True on any loop's event thread (where blocking would stall other calls).
bool cpay__on_event_thread(void);

// A channel over the connected socket `fd` (taken), for the server bridge
// (bridge.h); `opts` as for cpay_channel_new, whose checks it shares.
cpay_channel *cpay__channel_new_fd(int fd, const cpay_channel_opts *opts, cpay_status *st);

// ---- the call core (rpc.c) ---------------------------------------------------

// What a client or a server call adds to the core. mu is held where noted.
typedef struct cpay__rpc_vt {
  // Writes the ops that must precede the first message (the server's
  // initial metadata) to `ops`; returns how many (0 or 1). mu held.
  size_t (*before_send)(cpay__rpc *r, grpc_op *ops);
  // The send queue emptied after cpay__rpc_close: end the sending side
  // (half-close, or the server's status). mu held.
  void (*drained)(cpay__rpc *r);
  // A read completed: `msg` (NULL at the end of the stream, or when it did
  // not decode: then `code` and `err` say why).
  void (*read_done)(cpay__rpc *r, void *msg, cpay_code code, const cpay_status *err);
  // Room in the send queue after a write was refused.
  void (*ready)(cpay__rpc *r);
  // A batch completed: see whether the call is over.
  void (*batch_done)(cpay__rpc *r);
  // The last reference went: free the call.
  void (*free)(cpay__rpc *r);
} cpay__rpc_vt;

// The state client and server calls share: the lock, the references, the
// queue of written messages (one SEND_MESSAGE in flight at a time, as C-core
// requires), one read at a time, and the waiting of blocking operations.
struct cpay__rpc {
  const cpay__rpc_vt *vt;
  pthread_mutex_t mu;
  pthread_cond_t cv;  // blocking waiters; CLOCK_MONOTONIC
  grpc_call *call;
  grpc_completion_queue *cq;
  // A private queue is driven by the threads waiting on the call (blocking
  // client calls); otherwise the threads of `loop` drive it.
  bool private_cq;
  cpay_loop *loop;
  bool polling;  // a waiter is inside grpc_completion_queue_next
  // A thread runs this call's completions; others queue theirs here.
  bool running;
  cpay__op *pending_head, *pending_tail;
  int waiters;   // threads in pthread_cond_wait
  atomic_int refs;
  int batches;  // in flight
  const cpay_msg_table *send_t;
  const cpay_msg_table *recv_t;
  cpay_arena *arena;  // the call's own
  // Written messages not yet sent completely; the first is being sent
  // while `sending`. q_bytes counts them all.
  grpc_byte_buffer **q;
  size_t q_head, q_len, q_cap;
  size_t q_bytes, q_limit;
  // The stall: while the producer is held back (a write was refused and
  // on_ready is owed, a blocking write waits for room, or the sending side
  // closed with messages unsent) and no send completes for stall_ms, the
  // peer reads nothing: the call is ended. The clock runs from stall_from,
  // when sent_ok was stall_mark; 0 while the producer is not held back.
  int64_t stall_ms;  // 0: never
  int64_t stall_from;
  uint64_t stall_mark;
  int room_waiters;  // blocking writes waiting for room
  // On a loop, `stall` ends a stalled call even when nothing writes any
  // more (a reactor waiting for on_ready). stall_armed: armed, or its
  // function is about to run; it holds a reference meanwhile.
  cpay__timer stall;
  bool stall_armed;
  bool stalled;  // the stall ended the call, after stall_for ms
  int64_t stall_for;
  cpay__op op_kick;    // an empty batch that wakes the loop for an earlier timer
  bool kick_pending;
  bool sending;
  uint64_t pushed;   // messages queued, ever
  uint64_t sent_ok;  // messages C-core took, ever
  // The size of the message being sent: C-core takes the slices out of the
  // byte buffer it sends, so its length is 0 once the batch completes.
  size_t sending_bytes;
  bool want_ready;   // a write was refused: call ready() when there is room
  bool closing;      // no more writes; drained() once the queue is empty
  bool send_failed;  // the call ended: writes fail
  // The owner delivered the end (on_done, or a blocking finish): no batch
  // starts any more, so none can outlive the call.
  bool ended;
  cpay__op op_send;
  bool reading;
  bool read_eos;     // the end of the stream was read
  bool read_broken;  // a read failed: the call is over, not just half-closed
  cpay_arena *read_arena;
  grpc_byte_buffer *read_bb;
  cpay__op op_read;
};

void cpay__rpc_init(cpay__rpc *r, const cpay__rpc_vt *vt, cpay_arena *arena, size_t q_limit,
                    int64_t stall_ms);
// Releases what the core holds (queued messages, lock). The owner's free.
void cpay__rpc_destroy(cpay__rpc *r);
void cpay__rpc_ref(cpay__rpc *r);
void cpay__rpc_unref(cpay__rpc *r);
// The call has ended for its owner (its end was delivered): no batch starts
// any more, and its timer goes. mu held.
void cpay__rpc_end(cpay__rpc *r);
// Starts a batch whose completion runs `op`; it holds a reference until its
// op calls cpay__rpc_batch_end. mu held. False when C-core refused it or
// the call has ended.
bool cpay__rpc_start_batch(cpay__rpc *r, const grpc_op *ops, size_t n, cpay__op *op);
// The end of every op function: counts the batch out, asks the owner
// whether the call is over, and drops the batch's reference.
void cpay__rpc_batch_end(cpay__rpc *r);
// Runs `op` soon as one of the call's completions (an empty batch), for
// callbacks that must not run on the caller's thread. mu held.
bool cpay__rpc_post(cpay__rpc *r, cpay__op *op);
// How a write waits.
typedef enum cpay__write_wait {
  CPAY__WRITE_NOWAIT,    // a full queue refuses it: CPAY_ERR_WOULD_BLOCK
  CPAY__WRITE_FOR_ROOM,  // wait while the queue is full (never on an event thread)
  CPAY__WRITE_FOR_SENT,  // wait until it is sent (a call driven by its waiters)
} cpay__write_wait;
// Queues `msg` (encoded here), waiting as `wait` says.
cpay_code cpay__rpc_write(cpay__rpc *r, const void *msg, cpay__write_wait wait, cpay_status *st);
// No more writes; vt->drained once the queued ones are sent. mu held.
void cpay__rpc_close(cpay__rpc *r);
// The call ended: writes fail and the queue is dropped. mu held.
void cpay__rpc_fail_sends(cpay__rpc *r);
// Starts reading the next message onto `arena` (NULL: the call's arena);
// the _locked form with mu held.
cpay_code cpay__rpc_read(cpay__rpc *r, cpay_arena *arena, cpay_status *st);
cpay_code cpay__rpc_read_locked(cpay__rpc *r, cpay_arena *arena, cpay_status *st);
// Waits, mu held, until pred() or `deadline_ms` (cpay__now_ms clock; 0:
// none) passes: on a private queue by driving it (one waiter at a time,
// the others sleep), else on the condition variable. False on timeout.
bool cpay__rpc_wait(cpay__rpc *r, bool (*pred)(cpay__rpc *r, void *arg), void *arg,
                    int64_t deadline_ms);
// Wakes the waiters after a change they may wait for. mu held.
void cpay__rpc_wake(cpay__rpc *r);
// Wakes a thread of the call's loop (an empty batch), so that it sees a
// timer armed from another thread that is due before the loop's earliest
// one. mu held. False when the call has ended.
bool cpay__rpc_kick(cpay__rpc *r);

// ---- metadata, messages, time (common.c) -------------------------------------

// Outgoing metadata: copies of keys and values as slices, unreferenced by
// cpay__md_out_free (after the batch that sends them has completed).
typedef struct cpay__md_out {
  grpc_metadata *items;
  size_t count;
  size_t cap;
} cpay__md_out;

// Validates `key` (legal gRPC header, not reserved) and the value (printable
// ASCII unless the key ends in -bin), then appends copies.
cpay_code cpay__md_out_add(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st);
// Appends without validation (for C-core's internal keys).
cpay_code cpay__md_out_push(cpay__md_out *md, cpay_str key, cpay_str value, cpay_status *st);
void cpay__md_out_free(cpay__md_out *md);

// Copies a received metadata array onto `a` (or returns an empty list when
// `a` is NULL).
cpay_code cpay__md_in_copy(const grpc_metadata_array *in, cpay_arena *a, cpay_md **out,
                           size_t *count);

// Arena blocks from malloc, for arenas that start on a buffer of their own
// (a call's) and may grow.
extern const cpay_alloc cpay__malloc_blocks;

// Encodes `msg` into a new byte buffer (caller destroys it), on a scratch
// arena of its own: safe from any thread.
cpay_code cpay__msg_to_bb(const void *msg, const cpay_msg_table *t, grpc_byte_buffer **out,
                          cpay_status *st);
// Decodes a received byte buffer into a new message on `a`.
cpay_code cpay__bb_to_msg(grpc_byte_buffer *bb, const cpay_msg_table *t, cpay_arena *a,
                          void **out, cpay_status *st);
// A copy of `s` onto `a`, NUL-terminated; {NULL, 0} when out of memory.
cpay_str cpay__slice_dup(cpay_arena *a, grpc_slice s);
// "%s" of a vprintf-style format onto `a`, of any length; {NULL, 0} when out
// of memory.
cpay_str cpay__vformat(cpay_arena *a, const char *fmt, va_list ap) CPAY_PRINTF(2, 0);

// An absolute monotonic deadline `ms` from now; infinite for ms < 0.
gpr_timespec cpay__deadline_in(int64_t ms);
// Milliseconds of CLOCK_MONOTONIC (never 0).
int64_t cpay__now_ms(void);
// The cpay__now_ms time `ms` from now, saturated: a huge timeout (INT64_MAX
// meaning "forever") does not overflow.
int64_t cpay__ms_from_now(int64_t ms);
// The longest hedging delay a policy may give (a day), and the most
// attempts (gRFC A6's limit, also for retries; a hedged call's array).
#define CPAY__MAX_HEDGING_DELAY_MS ((int64_t)86400000)
#define CPAY__MAX_ATTEMPTS 5
// cpay__now_ms time `ms` as a timespec, for pthread_cond_timedwait on a
// condition variable made by cpay__cond_init_monotonic.
struct timespec cpay__abs_monotonic(int64_t ms);
void cpay__cond_init_monotonic(pthread_cond_t *cv);
// The service config of the typed options in `o` (lb_policy,
// health_check_service, method_policies, retry_unavailable), checked: *out
// is malloc'd JSON for the caller to free, or NULL when they say nothing
// (or o->service_config_json is set and is to be used as it is).
// CPAY_ERR_INVALID_ARGUMENT with a message for a bad or conflicting value.
cpay_code cpay__service_config(const cpay_channel_opts *o, char **out, cpay_status *st);
// The entry of ps[0..count) that applies to method `path`
// ("/pkg.Service/Method") as in a service config: the method's own, else
// its service's, else the one for every service; NULL when none does.
const cpay_method_policy *cpay__method_policy(const cpay_method_policy *ps, size_t count,
                                              const char *path);
// Whether `name` is a compression algorithm C-core knows.
bool cpay__valid_compression(const char *name);

// grpc_init() once per live loop, channel or server; grpc_shutdown() when
// the last one goes away.
void cpay__grpc_ref(void);
void cpay__grpc_unref(void);

// ---- rich error status (details.c) ---------------------------------------------

// The grpc-status-details-bin trailer for a status: a serialized
// google.rpc.Status {code, message, details}, onto `a`.
cpay_code cpay__status_details_encode(cpay_grpc_code code, cpay_str message,
                                      const cpay_rpc_detail *details, size_t count,
                                      cpay_arena *a, cpay_bytes *out, cpay_status *st);
// Reads a grpc-status-details-bin value received with status `code`: its
// details onto `a`. A trailer that does not decode, or whose code differs
// from the call's, gives CPAY_ERR_MALFORMED (CPAY_ERR_NO_MEMORY when `a`
// is full) and no details.
cpay_code cpay__status_details_decode(const uint8_t *data, size_t size, cpay_grpc_code code,
                                      cpay_arena *a, cpay_rpc_detail **out, size_t *count,
                                      cpay_status *st);
// A detail for `msg` of table `t` (type URL and bytes) onto `a`.
cpay_code cpay__detail_pack(const cpay_msg_table *t, const void *msg, cpay_arena *a,
                            cpay_rpc_detail *out, cpay_status *st);

// ---- server internals shared with health.c and reflection.c ----------------------

// Registered services (for reflection's list and file lookups): in
// grpc/bridge.h, which libcpay-http uses too.
// The server call whose handler or callback runs on this thread, or NULL.
cpay_server_call *cpay__current_server_call(void);
// Its grpc_call, for parent propagation.
grpc_call *cpay__server_call_grpc(cpay_server_call *call);

// health.c: the service's state and watchers.
typedef struct cpay__health cpay__health;
cpay__health *cpay__health_new(void);
void cpay__health_free(cpay__health *h);
void cpay__health_set(cpay__health *h, const char *service, bool serving);
// Everything NOT_SERVING; watchers get it and their streams end.
void cpay__health_shutdown(cpay__health *h);
// Registers grpc.health.v1.Health on `srv`, serving from `h`.
cpay_code cpay__health_register(cpay_server *srv, cpay__health *h, cpay_status *st);

#endif  // CPAY_SRC_GRPC_INTERNAL_H_
