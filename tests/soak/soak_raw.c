// What libcpay-grpc will not send, sent straight through gRPC C-core or a
// socket: request payloads that are not protobuf, connections that die
// before or inside HTTP/2, and a proxy that resets a connection mid-call.
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "soak.h"

#define BIT(code) (1u << (code))
#define RAW_TIMEOUT_MS 20000

static const char *const kPaths[SOAK_METHODS] = {
    "/payments.v1.PaymentService/ChargeCard",
    "/payments.v1.PaymentService/StreamTransactions",
    "/payments.v1.PaymentService/BatchCharge",
    "/payments.v1.PaymentService/PaymentChat",
};
static const char *const kRequestTypes[SOAK_METHODS] = {
    "payments.v1.ChargeRequest",
    "payments.v1.TransactionStreamRequest",
    "payments.v1.ChargeRequest",
    "payments.v1.PaymentMessage",
};

// A plain C-core channel to the server.
static grpc_channel *raw_channel(const soak_client *c) {
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *ch = grpc_channel_create(c->target, creds, NULL);
  grpc_channel_credentials_release(creds);
  return ch;
}

typedef struct raw_call {
  grpc_completion_queue *cq;
  grpc_call *call;
  grpc_metadata_array init_md, trail_md;
  grpc_status_code status;
  grpc_slice details;
  int tag_op, tag_status;
  bool status_started;
  bool got_init;
} raw_call;

static bool raw_batch(raw_call *r, grpc_op *ops, size_t n) {
  if (grpc_call_start_batch(r->call, ops, n, &r->tag_op, NULL) != GRPC_CALL_OK) return false;
  grpc_event ev = grpc_completion_queue_pluck(r->cq, &r->tag_op,
                                              gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

// Starts a call of `path` and sends its initial metadata; the status is
// received by raw_finish.
static bool raw_start(raw_call *r, grpc_channel *ch, const char *path, int64_t timeout_ms) {
  memset(r, 0, sizeof *r);
  r->cq = grpc_completion_queue_create_for_pluck(NULL);
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
  r->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq,
                                     grpc_slice_from_static_string(path), NULL, deadline, NULL);
  grpc_metadata_array_init(&r->init_md);
  grpc_metadata_array_init(&r->trail_md);
  r->details = grpc_empty_slice();
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &r->trail_md;
  op.data.recv_status_on_client.status = &r->status;
  op.data.recv_status_on_client.status_details = &r->details;
  if (grpc_call_start_batch(r->call, &op, 1, &r->tag_status, NULL) != GRPC_CALL_OK) return false;
  r->status_started = true;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  return raw_batch(r, &op, 1);
}

static bool raw_send(raw_call *r, const void *bytes, size_t len) {
  grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_MESSAGE;
  op.data.send_message.send_message = bb;
  bool ok = raw_batch(r, &op, 1);
  grpc_byte_buffer_destroy(bb);
  return ok;
}

static bool raw_close_send(raw_call *r) {
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  return raw_batch(r, &op, 1);
}

// Receives one message; false at the end of the stream.
static bool raw_recv(raw_call *r) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (!r->got_init) {
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &r->init_md;
    r->got_init = true;
  }
  grpc_byte_buffer *bb = NULL;
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &bb;
  bool ok = raw_batch(r, ops, n);
  if (bb) grpc_byte_buffer_destroy(bb);
  return ok && bb;
}

// Waits for the status and frees the call: `message` gets the details.
static grpc_status_code raw_finish(raw_call *r, char *message, size_t size) {
  if (r->status_started) {
    grpc_completion_queue_pluck(r->cq, &r->tag_status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  } else {
    r->status = GRPC_STATUS_UNKNOWN;  // reported as a wrong reply
    r->details = grpc_slice_from_static_string("the call could not be started");
  }
  size_t n = GRPC_SLICE_LENGTH(r->details);
  if (n >= size) n = size - 1;
  memcpy(message, GRPC_SLICE_START_PTR(r->details), n);
  message[n] = '\0';
  grpc_call_unref(r->call);
  grpc_completion_queue_shutdown(r->cq);
  while (grpc_completion_queue_pluck(r->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(r->cq);
  grpc_metadata_array_destroy(&r->init_md);
  grpc_metadata_array_destroy(&r->trail_md);
  grpc_slice_unref(r->details);
  return r->status;
}

// Counts a raw call's status like soak_expect does for libcpay-grpc calls.
static bool raw_expect(soak_client *c, soak_action a, int method, grpc_status_code code,
                       const char *message, uint32_t allowed) {
  cpay_rpc_result res;
  memset(&res, 0, sizeof res);
  res.code = (cpay_grpc_code)code;
  res.message = cpay_str_from_c(message);
  cpay_status st = {0};
  return soak_expect(c, a, method, CPAY_OK, &res, &st, allowed);
}

// Bytes no protobuf decoder may accept, whatever the message type: each
// form breaks the wire format at a known place, and random bytes follow.
static size_t garbage(soak_client *c, uint8_t *buf, size_t cap) {
  size_t n = 0;
  uint8_t field = (uint8_t)soak_range(c, 1, 15);
  switch (soak_range(c, 0, 5)) {
    case 0:  // field number 0
      buf[n++] = (uint8_t)soak_range(c, 0, 7);
      break;
    case 1:  // wire types 6 and 7 do not exist
      buf[n++] = (uint8_t)(field << 3 | soak_range(c, 6, 7));
      break;
    case 2:  // an end-group tag without a group
      buf[n++] = (uint8_t)(field << 3 | 4);
      break;
    case 3: {  // a length past the end
      buf[n++] = (uint8_t)(field << 3 | 2);
      buf[n++] = 0xff;
      buf[n++] = 0xff;
      buf[n++] = 0x7f;  // 2 MiB
      break;
    }
    case 4: {  // a varint that never ends: every byte has its high bit set
      size_t len = (size_t)soak_range(c, 1, 9);
      for (size_t i = 0; i < len; i++) buf[n++] = (uint8_t)(0x80 | soak_range(c, 0, 127));
      return n;
    }
    default: {  // field 1 (a string in every request type) with invalid UTF-8
      static const uint8_t kBad[][2] = {{0xc3, 0x28}, {0xff, 0xfe}, {0xed, 0xa0}, {0x80, 0x80}};
      const uint8_t *bad = kBad[soak_range(c, 0, 3)];
      buf[n++] = 0x0a;
      buf[n++] = 2;
      buf[n++] = bad[0];
      buf[n++] = bad[1];
      break;
    }
  }
  size_t tail = (size_t)soak_range(c, 0, (int64_t)(cap - n < 2000 ? cap - n : 2000));
  for (size_t i = 0; i < tail; i++) buf[n++] = (uint8_t)soak_rand(c);
  return n;
}

// A valid request of `method` that changes nothing: a charge the server
// refuses (amount 0) or a chat line.
static size_t harmless(int method, uint8_t *buf) {
  if (method == SOAK_CHAT) {
    static const uint8_t kLine[] = {0x0a, 0x02, 'h', 'i'};  // text: "hi"
    memcpy(buf, kLine, sizeof kLine);
    return sizeof kLine;
  }
  // customer_id "raw", currency "USD", idempotency_key "raw" (amount 0).
  static const uint8_t kCharge[] = {0x0a, 0x03, 'r', 'a', 'w', 0x1a, 0x03, 'U', 'S',
                                    'D',  0x22, 0x03, 'r', 'a', 'w'};
  memcpy(buf, kCharge, sizeof kCharge);
  return sizeof kCharge;
}

void soak_raw_garbage(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_RAW_GARBAGE], 1);
  if (!c->raw) c->raw = raw_channel(c);
  int method = (int)soak_range(c, 0, SOAK_METHODS - 1);
  uint8_t buf[2100];
  raw_call r;
  char message[CPAY_STATUS_MSG_SIZE];
  int valid_first = 0;
  if (raw_start(&r, c->raw, kPaths[method], RAW_TIMEOUT_MS)) {
    // Streaming requests may first carry good messages, then the bad one.
    if (method >= SOAK_BATCH) valid_first = (int)soak_range(c, 0, 2);
    bool ok = true;
    for (int i = 0; i < valid_first && ok; i++) ok = raw_send(&r, buf, harmless(method, buf));
    if (ok) ok = raw_send(&r, buf, garbage(c, buf, sizeof buf));
    if (ok) (void)raw_close_send(&r);
  }
  int answers = 0;
  while (raw_recv(&r)) answers++;
  grpc_status_code code = raw_finish(&r, message, sizeof message);
  if (!raw_expect(c, A_RAW_GARBAGE, method, code, message, BIT(CPAY_GRPC_INTERNAL))) return;
  char want[96];
  snprintf(want, sizeof want, "request could not be decoded as %s: ", kRequestTypes[method]);
  if (strncmp(message, want, strlen(want)) != 0) {
    soak_wrong(c, A_RAW_GARBAGE, "INTERNAL says '%s', expected it to start '%s'", message, want);
  }
  int want_answers = method == SOAK_CHAT ? valid_first : 0;
  if (answers != want_answers) {
    soak_wrong(c, A_RAW_GARBAGE, "%s answered %d messages before the bad one, expected %d",
               kPaths[method], answers, want_answers);
  }
}

// ---- a proxy whose connection can be cut ---------------------------------------

struct soak_proxy {
  int listen_fd;
  int port;
  int server_port;
  atomic_bool cut;
  pthread_t thread;
};

static int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Copies what is readable from `from` to `to`; false at EOF or on an error.
static bool pump(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return false;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

// Accepts one connection, connects it to the server and copies bytes both
// ways until either side closes or the cut: then both are reset (RST).
static void *proxy_main(void *arg) {
  soak_proxy *p = arg;
  int a = -1, b = -1;
  while (!atomic_load(&p->cut) && a < 0) {
    struct pollfd l = {p->listen_fd, POLLIN, 0};
    if (poll(&l, 1, 10) == 1) a = accept(p->listen_fd, NULL, NULL);
  }
  if (a >= 0) b = tcp_connect(p->server_port);
  while (a >= 0 && b >= 0 && !atomic_load(&p->cut)) {
    struct pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    if (poll(fds, 2, 10) <= 0) continue;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(a, b)) break;
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(b, a)) break;
  }
  struct linger lg = {1, 0};  // close() resets the connection
  if (a >= 0) {
    setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(a);
  }
  if (b >= 0) {
    setsockopt(b, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(b);
  }
  return NULL;
}

soak_proxy *soak_proxy_start(int server_port) {
  soak_proxy *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->server_port = server_port;
  p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(p->listen_fd, 4) != 0 ||
      getsockname(p->listen_fd, (struct sockaddr *)&addr, &len) != 0 ||
      pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
    fprintf(stderr, "payments-soak: cannot start a proxy: %s\n", strerror(errno));
    if (p->listen_fd >= 0) close(p->listen_fd);
    free(p);
    return NULL;
  }
  p->port = ntohs(addr.sin_port);
  return p;
}

int soak_proxy_port(const soak_proxy *p) { return p->port; }

void soak_proxy_cut(soak_proxy *p) {
  atomic_store(&p->cut, true);
  pthread_join(p->thread, NULL);
  close(p->listen_fd);
  free(p);
}

// A TCP connection that dies: at once, inside the HTTP/2 preface, after a
// partial frame, or after junk; closed with a reset, or plainly.
void soak_tcp_drop(soak_client *c) {
  atomic_fetch_add(&soak.actions[A_TCP_DROP], 1);
  int fd = tcp_connect(soak.port);
  if (fd < 0) {
    soak_wrong(c, A_TCP_DROP, "connect to the server: %s", strerror(errno));
    return;
  }
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // An empty SETTINGS frame, then a HEADERS frame (stream 1, END_HEADERS)
  // announcing 64 bytes of which only the first few follow.
  static const uint8_t kFrames[] = {0, 0, 0, 4, 0, 0, 0, 0, 0,
                                    0, 0, 64, 1, 4, 0, 0, 0, 1, 0x83, 0x86, 0x44};
  uint8_t buf[512];
  size_t n = 0;
  switch (soak_range(c, 0, 3)) {
    case 0:
      break;
    case 1:
      n = (size_t)soak_range(c, 1, sizeof kPreface - 2);
      memcpy(buf, kPreface, n);
      break;
    case 2:
      memcpy(buf, kPreface, sizeof kPreface - 1);
      n = sizeof kPreface - 1;
      memcpy(buf + n, kFrames, sizeof kFrames);
      n += (size_t)soak_range(c, 1, sizeof kFrames);
      break;
    default:
      n = (size_t)soak_range(c, 1, sizeof buf);
      for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)soak_rand(c);
      break;
  }
  if (n) (void)!write(fd, buf, n);
  if (soak_range(c, 0, 1)) soak_sleep_ms(soak_range(c, 0, 20));
  if (soak_range(c, 0, 2)) {
    struct linger lg = {1, 0};  // close sends RST instead of FIN
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  close(fd);
}

void soak_raw_free(soak_client *c) {
  if (c->raw) grpc_channel_destroy(c->raw);
  c->raw = NULL;
}
