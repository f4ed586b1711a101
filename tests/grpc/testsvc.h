// A PaymentService implementation for the C tests: behaviour chosen by the
// request, counters to check what the server saw.
#ifndef CPAY_TESTS_GRPC_TESTSVC_H_
#define CPAY_TESTS_GRPC_TESTSVC_H_

#include <stdatomic.h>

#include "cpay/grpc.h"
#include "payments.cpay_grpc.h"

typedef struct testsvc {
  atomic_int unary_calls;
  atomic_int streams_started;
  atomic_int streams_ended;
  atomic_int streams_saw_cancel;
  atomic_int active;  // handlers (or reactor calls) running now
  atomic_int max_active;
  atomic_int would_block;  // reactor writes refused for a full send queue
  atomic_int ready;        // on_ready callbacks
  // "relay:X" ChargeCard requests call ChargeCard for customer X here.
  const char *relay_target;
  atomic_int relay_code;  // the relayed call's cpay code
  // cpay_server_call_time_left_ms of the last "sleep:" ChargeCard.
  atomic_llong sleep_time_left;
  // Blocking ChargeCard only, for replica tests: every call first waits
  // delay_ms (watching for cancellation), then fails with fail_code when
  // that is not 0; `name`, when set, is sent as initial and trailing
  // metadata x-server.
  atomic_int delay_ms;
  atomic_int fail_code;
  const char *name;
  // ChargeCard calls that saw their cancellation (while delayed or
  // sleeping).
  atomic_int unary_cancelled;
} testsvc;

// Both handler tables behave alike, one with blocking handlers, the other
// with reactors (a thread of the test's own finishes the delayed unary
// calls, showing a reactor finished from another thread).
// ChargeCard: customer_id "sleep:N" sleeps N ms (watching for cancellation);
// "big:N" answers with an N-byte processor_reference, "peer" with the
// client's address and port (cpay_server_call_peer), "details" fails
// INVALID_ARGUMENT with a google.rpc.BadRequest and an ErrorInfo detail,
// "long:N" fails INVALID_ARGUMENT with an N-byte message, "relay:X" (blocking
// only) calls ChargeCard for X at relay_target and fails with its status
// (its cpay code in relay_code), "wait-cancel" (blocking only) waits up to
// 5 s for its cancellation callback, then sets a second one (relay_code:
// CPAY_ERR_CANCELLED if both came), "late-cancel" (blocking only) the
// same, but sets the first only once the call was cancelled; otherwise
// echoes the idempotency key as transaction_id and copies
// x-request-id and any x-bin-bin metadata into the initial and trailing
// metadata.
// StreamTransactions: since_unix messages, or endless ("forever") until
// cancelled; "headers" sends its initial metadata (x-stage: subscribed) at
// once and then nothing until cancelled. BatchCharge: counts. PaymentChat:
// echoes each message.
extern const payments_v1_PaymentService_handlers testsvc_handlers;
extern const payments_v1_PaymentService_handlers testsvc_reactor_handlers;

// A server on 127.0.0.1:<port> with testsvc's blocking handlers; NULL on
// failure.
cpay_server *testsvc_server(testsvc *t, const cpay_server_opts *opts, int *port);
// The same with handler table `h` (testsvc_handlers or
// testsvc_reactor_handlers).
cpay_server *testsvc_server_with(testsvc *t, const payments_v1_PaymentService_handlers *h,
                                 const cpay_server_opts *opts, int *port);
// The number of threads of this process (Threads: of /proc/self/status).
int testsvc_threads(void);
// The threads of this process that C-core did not start (C-core names
// its own: timer_manager, event_engine, ...): the program's, cpay's event
// loops and worker pools.
int testsvc_own_threads(void);

void testsvc_sleep_ms(long ms);

#endif  // CPAY_TESTS_GRPC_TESTSVC_H_
