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
  atomic_int active;  // handlers running now
  atomic_int max_active;
} testsvc;

// ChargeCard: customer_id "sleep:N" sleeps N ms (watching for cancellation);
// "big:N" answers with an N-byte processor_reference, "peer" with the
// client's address and port (cpay_server_call_peer); otherwise echoes the
// idempotency key as transaction_id and copies x-request-id and any
// x-bin-bin metadata into the initial and trailing metadata.
// StreamTransactions: since_unix messages, or endless ("forever") until
// cancelled. BatchCharge: counts. PaymentChat: echoes each message.
extern const payments_v1_PaymentService_handlers testsvc_handlers;

// A server on 127.0.0.1:<port> with testsvc; NULL on failure.
cpay_server *testsvc_server(testsvc *t, const cpay_server_opts *opts, int *port);

void testsvc_sleep_ms(long ms);

#endif  // CPAY_TESTS_GRPC_TESTSVC_H_
