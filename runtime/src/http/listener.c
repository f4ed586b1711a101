// The HTTP listener of libcpay-http: libevent's HTTP/1.1 server (evhttp)
// on threads of its own, in front of a channel into the server
// (cpay__server_bridge). A request is routed (REST bindings, or the gRPC-Web
// path), bound to a request message and started as an asynchronous call on
// the bridge; the call's callbacks, on the server's event threads, turn what
// comes back into bytes (JSON, NDJSON lines, gRPC-Web frames) and hand them
// to the listener thread, the only one that touches evhttp.
//
// An exchange is one request and its call. It is freed on the listener
// thread once both ends are over: the call's on_done was seen and the
// response is sent or its connection closed.
#define _DEFAULT_SOURCE  // getaddrinfo, SOCK_CLOEXEC

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cpay/http.h"
#include "grpc/bridge.h"
#include "http/bind.h"
#include "http/grpcweb.h"
#include "http/respond.h"
#include "http/route.h"

#define DEFAULT_IO_TIMEOUT_MS 30000
// Bytes of a streamed response handed to evhttp and not yet written: past
// this, the next message is not read from the call (the handler's writes
// then wait for room, as for a slow gRPC client).
#define STREAM_WINDOW ((size_t)64 << 10)
// At shutdown, how long the listener goes on writing what the calls' ends
// left to send.
#define SHUTDOWN_WRITE_MS 200
// At shutdown, how long the listener waits for its calls' statuses to
// arrive before closing the bridge (which cancels what is left).
#define CLOSE_WAIT_MS 2000

typedef struct listener listener;
typedef struct exchange exchange;

typedef enum ex_kind { EX_REST, EX_GRPC_WEB } ex_kind;

// Bytes for the listener thread to send, made on an event thread.
typedef struct chunk {
  struct chunk *next;
  size_t len;
  unsigned char data[];
} chunk;

struct exchange {
  listener *l;
  exchange *next_ready;  // in l->ready
  bool queued;           // in l->ready (l->mu)
  // Listener thread only.
  struct evhttp_request *req;  // NULL once answered or its connection closed
  struct evhttp_connection *conn;
  // The peer's close (EV_CLOSED), watched while a stream runs: evhttp reads
  // nothing while a response is pending, so it would learn of the close
  // only from a failed write, which a quiet stream never makes.
  struct event *closed;
  bool head_sent;  // the status line and headers are out (a stream)
  bool answered;   // the whole response was handed to evhttp
  bool gone;       // the connection closed first
  ex_kind kind;
  cpay__grpcweb_kind web;  // gRPC-Web: binary or text
  const cpay_method *m;
  const cpay__http_binding *b;  // REST
  cpay_arena *arena;            // the request and what is bound from it
  cpay_call *call;
  cpay_arena *msg_arena;  // each streamed response, reset after it is encoded
  // Made on event threads, taken by the listener thread (l->mu).
  chunk *out_head, *out_tail;
  size_t out_bytes;    // queued or in evhttp, not yet written
  int status;          // the HTTP status, once known (0: not yet)
  char *headers;       // "name: value\n" lines to add, once known
  bool streaming;      // the response is a stream of chunks
  bool finished;       // the last chunk is queued
  bool done;           // on_done ran
  bool read_paused;    // a read is owed once out_bytes drops
  // A stream's head (200 and its headers) is decided: by the initial
  // metadata for gRPC-Web (its status goes in the body anyway), by the
  // first message for REST (an earlier failure gets its own HTTP status).
  bool stream_open;
  char *init_headers;  // the initial metadata as header lines, once seen
};

struct listener {
  cpay_server *srv;
  cpay_http_opts opts;
  char **strings;  // copies of the option strings
  size_t string_count;
  char *tls_cert, *tls_key;
  int fd;  // the bound socket, until started
  int port;
  struct event_base *base;
  struct evhttp *http;
  struct event *wake;
  SSL_CTX *ssl;
  pthread_t thread;
  bool running;
  cpay_channel *ch;
  cpay__http_router *router;
  cpay_method *methods;  // the servers' methods, as client methods
  size_t method_count;
  pthread_mutex_t mu;
  pthread_cond_t calls_cv;  // a call ended (CLOCK_MONOTONIC)
  int calls;                // exchanges whose call has not ended
  exchange *ready_head, *ready_tail;
  bool stopping;
  // The google.rpc error detail types, for error bodies; on reg_arena.
  cpay_arena *reg_arena;
  cpay_registry *err_registry;
};

static bool ex_post_locked(exchange *ex);
static void ex_post(exchange *ex);

// ---- small helpers ----------------------------------------------------------------

static chunk *chunk_new(const void *data, size_t len) {
  chunk *c = malloc(sizeof *c + len);
  if (!c) return NULL;
  c->next = NULL;
  c->len = len;
  memcpy(c->data, data, len);
  return c;
}

// Queues `c` (l->mu held).
static void ex_push(exchange *ex, chunk *c) {
  if (ex->out_tail) {
    ex->out_tail->next = c;
  } else {
    ex->out_head = c;
  }
  ex->out_tail = c;
  ex->out_bytes += c->len;
}

static char *vformat(const char *fmt, va_list ap) CPAY_PRINTF(1, 0);
static char *vformat(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

// Appends a header line to *h (malloc'ed); false when out of memory.
static bool add_header(char **h, const char *name, const char *value, size_t vlen) {
  size_t old = *h ? strlen(*h) : 0;
  size_t nlen = strlen(name);
  char *grown = realloc(*h, old + nlen + vlen + 4);
  if (!grown) return false;
  memcpy(grown + old, name, nlen);
  memcpy(grown + old + nlen, ": ", 2);
  memcpy(grown + old + nlen + 2, value, vlen);
  grown[old + nlen + 2 + vlen] = '\n';
  grown[old + nlen + 3 + vlen] = 0;
  *h = grown;
  return true;
}

static bool header_char_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

static bool md_is_bin(cpay_str key) {
  return key.size >= 4 && memcmp(key.data + key.size - 4, "-bin", 4) == 0;
}

// Metadata as response headers: "grpc-metadata-<key>" for REST (as
// grpc-gateway), the key itself for gRPC-Web; binary values in base64
// (the temporaries on `a`).
static bool md_headers(char **h, const char *prefix, const cpay_md *md, size_t n,
                       cpay_arena *a) {
  for (size_t i = 0; i < n; i++) {
    // gRPC's own (grpc-status-details-bin, say) are in the body already.
    if (*prefix && md[i].key.size >= 5 && memcmp(md[i].key.data, "grpc-", 5) == 0) continue;
    char name[256];
    int k = snprintf(name, sizeof name, "%s%.*s", prefix, (int)md[i].key.size, md[i].key.data);
    if (k < 0 || (size_t)k >= sizeof name) continue;
    cpay_str v = md[i].value;
    if (md_is_bin(md[i].key) && cpay__http_b64_encode(v.data, v.size, a, &v) != CPAY_OK) {
      return false;
    }
    if (header_char_ok(v.data, v.size) && !add_header(h, name, v.data, v.size)) return false;
  }
  return true;
}

static const char *web_type(cpay__grpcweb_kind web) {
  return web == CPAY__GRPCWEB_TEXT ? "application/grpc-web-text+proto"
                                   : "application/grpc-web+proto";
}

static cpay_json_encode_opts json_opts(const listener *l) {
  return (cpay_json_encode_opts){.flags = l->opts.json_flags, .registry = l->opts.registry};
}

// ---- the end of a call, on an event thread --------------------------------------------

// The trailer frame that ends a gRPC-Web response to `res`, or NULL.
static chunk *web_trailer(const exchange *ex, const cpay_rpc_result *res, cpay_arena *a) {
  cpay_bytes tr;
  if (!a || cpay__grpcweb_trailers(res->code, res->message, res->trailing_md,
                                   res->trailing_md_count, ex->web, a, &tr, NULL) != CPAY_OK) {
    return NULL;
  }
  return chunk_new(tr.data, tr.size);
}

// The call is over: queues `last` (may be NULL), marks the exchange done
// and hands it to the listener thread (l->mu held; true when that thread
// must be woken). The listener thread may free it once l->mu is released.
static bool ex_end_locked(exchange *ex, chunk *last) {
  if (last) ex_push(ex, last);
  ex->finished = true;
  ex->done = true;
  return ex_post_locked(ex);
}

// The answer for a call that ended with `res` before any response went out:
// REST: the HTTP status of the code and a google.rpc.Status body;
// gRPC-Web: 200 and a trailer frame. Or the whole unary response.
static void answer_at_end(exchange *ex, const cpay_rpc_result *res, chunk *body_ok) {
  listener *l = ex->l;
  char *h = NULL;
  chunk *body = NULL;
  int status = 200;
  cpay_arena *a = cpay_arena_new();
  bool ok = a != NULL;
  if (ex->kind == EX_REST) {
    const char *ct = ex->streaming && res->code == CPAY_GRPC_OK ? "application/x-ndjson"
                                                                 : "application/json";
    ok = ok && md_headers(&h, "grpc-metadata-", res->initial_md, res->initial_md_count, a) &&
         md_headers(&h, "grpc-trailer-", res->trailing_md, res->trailing_md_count, a) &&
         add_header(&h, "content-type", ct, strlen(ct));
    if (res->code == CPAY_GRPC_OK) {
      // The unary response; a stream that ended before its first message
      // has an empty body.
      body = body_ok;
      body_ok = NULL;
    } else {
      status = cpay__http_status_of(res->code);
      cpay_json_encode_opts jo = json_opts(l);
      cpay_str js = {0};
      ok = ok && cpay__http_error_json(res->code, res->message, res->details, res->detail_count,
                                       l->err_registry, &jo, a, &js, NULL) == CPAY_OK &&
           (body = chunk_new(js.data, js.size)) != NULL;
    }
  } else {
    // The unary response's data frame (made by on_message), then the status.
    const char *ct = web_type(ex->web);
    if (res->code == CPAY_GRPC_OK && body_ok) {
      pthread_mutex_lock(&l->mu);
      ex_push(ex, body_ok);
      pthread_mutex_unlock(&l->mu);
      body_ok = NULL;
    }
    ok = ok && md_headers(&h, "", res->initial_md, res->initial_md_count, a) &&
         add_header(&h, "content-type", ct, strlen(ct)) &&
         (body = web_trailer(ex, res, a)) != NULL;
  }
  cpay_arena_free(a);
  free(body_ok);
  pthread_mutex_lock(&l->mu);
  if (!ok) {
    status = 500;
    free(h);
    h = NULL;
    free(body);
    body = NULL;
  }
  if (ex->status == 0) ex->status = status;
  free(ex->headers);
  ex->headers = h;
  bool wake = ex_end_locked(ex, body);
  pthread_mutex_unlock(&l->mu);
  if (wake) event_active(l->wake, EV_READ, 0);
}

// ---- call callbacks (event threads) ----------------------------------------------------

// REST: one response as JSON (the whole message or the binding's
// response_body field); streams wrap it as {"result": ...} and end the
// line. gRPC-Web: one data frame.
static chunk *encode_response(exchange *ex, const void *msg, cpay_arena *a) {
  listener *l = ex->l;
  if (ex->kind == EX_GRPC_WEB) {
    cpay_bytes pb, frame;
    if (cpay_encode(msg, ex->m->response, a, NULL, &pb, NULL) != CPAY_OK ||
        cpay__grpcweb_data_frame(pb.data, pb.size, ex->web, a, &frame, NULL) != CPAY_OK) {
      return NULL;
    }
    return chunk_new(frame.data, frame.size);
  }
  cpay_str js;
  cpay_json_encode_opts jo = json_opts(l);
  cpay_code c = ex->streaming ? cpay__http_stream_result(ex->b, msg, &jo, a, &js, NULL)
                              : cpay__http_response_json(ex->b, msg, &jo, a, &js, NULL);
  return c == CPAY_OK ? chunk_new(js.data, js.size) : NULL;
}

// Asks the call for the next response of a stream; a read that cannot
// start (the call ended) leaves on_done to finish the exchange.
static void read_next(exchange *ex) {
  if (cpay_call_read(ex->call, ex->msg_arena, NULL) != CPAY_OK) cpay_call_cancel(ex->call);
}

// Decides a stream's head: 200, its content type and the initial metadata
// (l->mu held).
static void open_stream(exchange *ex) {
  if (ex->stream_open) return;
  ex->stream_open = true;
  ex->status = 200;
  char *h = ex->init_headers;
  ex->init_headers = NULL;
  const char *ct = ex->kind == EX_REST ? "application/x-ndjson" : web_type(ex->web);
  if (add_header(&h, "content-type", ct, strlen(ct))) ex->headers = h;
}

// The server's initial metadata: kept for the head, which a gRPC-Web
// stream sends now (a browser's fetch returns, a subscription is seen to be
// open before its first event).
static void on_metadata(void *state, cpay_call *call, const cpay_md *md, size_t count) {
  exchange *ex = state;
  listener *l = ex->l;
  (void)call;
  if (!ex->streaming) return;  // a unary answer takes them from the result
  char *h = NULL;
  cpay_arena *a = cpay_arena_new();
  bool ok = a && md_headers(&h, ex->kind == EX_REST ? "grpc-metadata-" : "", md, count, a);
  cpay_arena_free(a);
  pthread_mutex_lock(&l->mu);
  if (ok) {
    free(ex->init_headers);
    ex->init_headers = h;
    h = NULL;
  }
  bool open = ex->kind == EX_GRPC_WEB;
  if (open) open_stream(ex);
  pthread_mutex_unlock(&l->mu);
  free(h);
  if (open) ex_post(ex);
}

static void on_message(void *state, cpay_call *call, void *msg) {
  exchange *ex = state;
  listener *l = ex->l;
  (void)call;
  if (!msg) return;  // the end of a stream: on_done follows
  cpay_arena *a = ex->streaming ? ex->msg_arena : cpay_arena_new();
  chunk *c = a ? encode_response(ex, msg, a) : NULL;
  if (ex->streaming) {
    cpay_arena_reset(a);
  } else {
    cpay_arena_free(a);
  }
  if (!c) {
    cpay_call_cancel(ex->call);  // on_done follows; the status says cancelled
    pthread_mutex_lock(&l->mu);
    ex->status = 500;
    pthread_mutex_unlock(&l->mu);
    return;
  }
  if (!ex->streaming) {
    // Unary and client streaming: the response goes out with the status.
    pthread_mutex_lock(&l->mu);
    ex_push(ex, c);
    pthread_mutex_unlock(&l->mu);
    return;
  }
  pthread_mutex_lock(&l->mu);
  open_stream(ex);
  ex_push(ex, c);
  bool more = ex->out_bytes < STREAM_WINDOW;
  if (!more) ex->read_paused = true;
  pthread_mutex_unlock(&l->mu);
  ex_post(ex);
  if (more) read_next(ex);
}

static void on_done(void *state, cpay_call *call, const cpay_rpc_result *res) {
  exchange *ex = state;
  listener *l = ex->l;
  (void)call;
  pthread_mutex_lock(&l->mu);
  if (--l->calls == 0) pthread_cond_broadcast(&l->calls_cv);
  bool head = ex->stream_open;
  // A unary response queued by on_message goes out with an OK status.
  chunk *unary = NULL;
  if (!ex->streaming) {
    unary = ex->out_head;
    ex->out_head = ex->out_tail = NULL;
    ex->out_bytes = 0;
  }
  pthread_mutex_unlock(&l->mu);
  if (!head) {
    answer_at_end(ex, res, unary);
    return;
  }
  // A stream under way: its end is in the body.
  cpay_arena *a = cpay_arena_new();
  chunk *c = NULL;
  if (ex->kind == EX_GRPC_WEB) {
    c = web_trailer(ex, res, a);
  } else if (res->code != CPAY_GRPC_OK) {
    cpay_str line;
    cpay_json_encode_opts jo = json_opts(l);
    if (a && cpay__http_stream_error(res->code, res->message, res->details, res->detail_count,
                                     l->err_registry, &jo, a, &line, NULL) == CPAY_OK) {
      c = chunk_new(line.data, line.size);
    }
  }
  cpay_arena_free(a);
  pthread_mutex_lock(&l->mu);
  bool wake = ex_end_locked(ex, c);
  pthread_mutex_unlock(&l->mu);
  if (wake) event_active(l->wake, EV_READ, 0);
}

static const cpay_call_reactor kReactor = {
    .on_message = (cpay_fn *)on_message,
    .on_metadata = on_metadata,
    .on_done = on_done,
};

// ---- the listener thread ----------------------------------------------------------------

static void ex_free(exchange *ex) {
  if (ex->closed) event_free(ex->closed);
  cpay_call_free(ex->call);
  for (chunk *c = ex->out_head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(ex->headers);
  free(ex->init_headers);
  cpay_arena_free(ex->msg_arena);
  cpay_arena_free(ex->arena);
  free(ex);
}

// Queues the exchange for the listener thread (l->mu held); true when the
// thread must be woken (the caller does that after unlocking). Once an
// exchange is done, the listener thread may free it as soon as l->mu is
// released: so `done` is set in the same critical section as this, and the
// exchange is not touched after.
static bool ex_post_locked(exchange *ex) {
  listener *l = ex->l;
  if (ex->queued) return false;
  ex->queued = true;
  ex->next_ready = NULL;
  bool wake = l->ready_tail == NULL;
  if (l->ready_tail) {
    l->ready_tail->next_ready = ex;
  } else {
    l->ready_head = ex;
  }
  l->ready_tail = ex;
  return wake;
}

static void ex_post(exchange *ex) {
  listener *l = ex->l;
  pthread_mutex_lock(&l->mu);
  bool wake = ex_post_locked(ex);
  pthread_mutex_unlock(&l->mu);
  if (wake) event_active(l->wake, EV_READ, 0);
}

// The client went away: the call is cancelled; the exchange goes once its
// on_done has been seen (ex_flush). evhttp has let go of the request, which
// is ours to finish (it frees it then).
static void on_conn_close(struct evhttp_connection *conn, void *arg) {
  exchange *ex = arg;
  evhttp_connection_set_closecb(conn, NULL, NULL);
  ex->gone = true;
  cpay_call_cancel(ex->call);
  ex_post(ex);
}

// The peer closed its side while the call runs: cancel it. Its on_done
// ends the exchange as usual (the writes then fail, and evhttp closes the
// connection).
static void on_peer_closed(evutil_socket_t fd, short what, void *arg) {
  exchange *ex = arg;
  (void)fd;
  (void)what;
  cpay_call_cancel(ex->call);
}

static void add_cors(listener *l, struct evhttp_request *req, const char *headers);

static void set_headers(struct evhttp_request *req, const char *h) {
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  for (const char *p = h; p && *p;) {
    const char *nl = strchr(p, '\n');
    const char *colon = memchr(p, ':', (size_t)(nl - p));
    if (colon) {
      char name[256];
      size_t n = (size_t)(colon - p);
      if (n < sizeof name) {
        memcpy(name, p, n);
        name[n] = 0;
        size_t vlen = (size_t)(nl - colon - 2);
        char *v = malloc(vlen + 1);
        if (v) {
          memcpy(v, colon + 2, vlen);
          v[vlen] = 0;
          evhttp_add_header(out, name, v);
          free(v);
        }
      }
    }
    p = nl + 1;
  }
}

static void on_chunk_written(struct evhttp_connection *conn, void *arg);

// Sends a whole response; a HEAD request's has no content (RFC 9110
// 9.3.2), so its body is dropped.
static void send_reply(struct evhttp_request *req, int status, struct evbuffer *body) {
  if (body && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
    evbuffer_drain(body, evbuffer_get_length(body));
  }
  evhttp_send_reply(req, status, NULL, body);
}

// Hands what the exchange's call produced to evhttp: the head, chunks, the
// end. Frees the exchange when both ends are over.
static void ex_flush(exchange *ex) {
  listener *l = ex->l;
  pthread_mutex_lock(&l->mu);
  chunk *list = ex->out_head;
  ex->out_head = ex->out_tail = NULL;
  int status = ex->status;
  char *headers = ex->headers;
  ex->headers = NULL;
  bool finished = ex->finished;
  bool done = ex->done;
  bool streaming = ex->stream_open;
  pthread_mutex_unlock(&l->mu);
  if (ex->gone) {
    for (chunk *c = list, *next; c; c = next) {
      next = c->next;
      free(c);
    }
    free(headers);
    if (!done) return;
    // A request whose connection is gone is freed by finishing it.
    if (ex->head_sent) {
      evhttp_send_reply_end(ex->req);
    } else {
      evhttp_send_reply(ex->req, 499, "Client Closed Request", NULL);
    }
    ex->req = NULL;
    ex_free(ex);
    return;
  }
  struct evhttp_request *req = ex->req;
  if (status && !ex->head_sent) {
    set_headers(req, headers);
    add_cors(l, req, headers);
  }
  free(headers);
  struct evbuffer *buf = evbuffer_new();
  size_t bytes = 0;
  for (chunk *c = list, *next; c; c = next) {
    next = c->next;
    if (buf) evbuffer_add(buf, c->data, c->len);
    bytes += c->len;
    free(c);
  }
  if (!streaming && finished) {
    // The whole response at once.
    send_reply(req, status, buf);
    ex->req = NULL;
    ex->answered = true;
    evhttp_connection_set_closecb(ex->conn, NULL, NULL);
    pthread_mutex_lock(&l->mu);
    ex->out_bytes = 0;
    pthread_mutex_unlock(&l->mu);
    if (buf) evbuffer_free(buf);
    ex_free(ex);
    return;
  }
  if (status && !ex->head_sent) {
    evhttp_send_reply_start(req, status, NULL);
    ex->head_sent = true;
    // evhttp times out reads while it writes; a live stream may well be
    // quiet for longer than io_timeout_ms. Only a client that does not take
    // what is written (the write timeout) ends it.
    struct bufferevent *bev = evhttp_connection_get_bufferevent(ex->conn);
    struct timeval wt = {(time_t)(l->opts.io_timeout_ms / 1000),
                         (suseconds_t)(l->opts.io_timeout_ms % 1000 * 1000)};
    bufferevent_set_timeouts(bev, NULL, l->opts.io_timeout_ms > 0 ? &wt : NULL);
  }
  if (ex->head_sent && bytes) {
    evhttp_send_reply_chunk_with_cb(req, buf, on_chunk_written, ex);
  }
  if (buf) evbuffer_free(buf);
  if (finished && ex->head_sent) {
    evhttp_send_reply_end(req);
    ex->req = NULL;
    ex->answered = true;
    evhttp_connection_set_closecb(ex->conn, NULL, NULL);
    ex_free(ex);
  }
}

static void on_chunk_written(struct evhttp_connection *conn, void *arg) {
  exchange *ex = arg;
  listener *l = ex->l;
  (void)conn;
  struct evbuffer *pending = bufferevent_get_output(evhttp_connection_get_bufferevent(conn));
  size_t left = evbuffer_get_length(pending);
  pthread_mutex_lock(&l->mu);
  ex->out_bytes = left;
  bool read = ex->read_paused && !ex->done && left < STREAM_WINDOW;
  if (read) ex->read_paused = false;
  pthread_mutex_unlock(&l->mu);
  if (read) read_next(ex);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
  listener *l = arg;
  (void)fd;
  (void)what;
  for (;;) {
    pthread_mutex_lock(&l->mu);
    exchange *ex = l->ready_head;
    if (ex) {
      l->ready_head = ex->next_ready;
      if (!l->ready_head) l->ready_tail = NULL;
      ex->queued = false;
    }
    pthread_mutex_unlock(&l->mu);
    if (!ex) return;
    ex_flush(ex);
  }
}

// ---- requests (listener thread) ------------------------------------------------------

static bool origin_allowed(const listener *l, const char *origin) {
  for (size_t i = 0; i < l->opts.cors_origin_count; i++) {
    const char *o = l->opts.cors_origins[i];
    if (strcmp(o, "*") == 0 || strcmp(o, origin) == 0) return true;
  }
  return false;
}

static const char kExposed[] =
    "grpc-status, grpc-message, grpc-status-details-bin, content-type";

// CORS headers for an allowed origin; `headers` (lines "name: value\n",
// or NULL) are the metadata headers of the response, exposed too so that
// page code can read them.
static void add_cors(listener *l, struct evhttp_request *req, const char *headers) {
  const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "origin");
  if (!origin || !origin_allowed(l, origin)) return;
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "access-control-allow-origin", origin);
  evhttp_add_header(out, "vary", "Origin");
  char *expose = NULL;
  size_t n = sizeof kExposed - 1;
  if ((expose = malloc(n + (headers ? strlen(headers) : 0) + 1))) {
    memcpy(expose, kExposed, n + 1);
    for (const char *p = headers; p && *p;) {
      const char *colon = strchr(p, ':');
      const char *nl = strchr(p, '\n');
      bool ct = (size_t)(colon - p) == 12 && strncmp(p, "content-type", 12) == 0;
      if (colon && colon < nl && !ct) {
        memcpy(expose + n, ", ", 2);
        memcpy(expose + n + 2, p, (size_t)(colon - p));
        n += 2 + (size_t)(colon - p);
        expose[n] = 0;
      }
      p = nl + 1;
    }
  }
  evhttp_add_header(out, "access-control-expose-headers", expose ? expose : kExposed);
  free(expose);
}

// A CORS preflight (OPTIONS with Access-Control-Request-Method).
static void preflight(listener *l, struct evhttp_request *req, const char *origin) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  if (!origin || !origin_allowed(l, origin)) {
    struct evbuffer *buf = evbuffer_new();
    if (buf) evbuffer_add_printf(buf, "origin %s is not allowed\n", origin ? origin : "(none)");
    evhttp_add_header(out, "content-type", "text/plain");
    send_reply(req, 403, buf);
    if (buf) evbuffer_free(buf);
    return;
  }
  const char *asked = evhttp_find_header(in, "access-control-request-headers");
  evhttp_add_header(out, "access-control-allow-origin", origin);
  evhttp_add_header(out, "vary", "Origin");
  evhttp_add_header(out, "access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  evhttp_add_header(out, "access-control-allow-headers",
                    asked && header_char_ok(asked, strlen(asked))
                        ? asked
                        : "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization");
  evhttp_add_header(out, "access-control-max-age", "600");
  evhttp_send_reply(req, 204, "No Content", NULL);
}

// An error answered before any call started: REST as a google.rpc.Status
// JSON body with the HTTP status of the code (or `http_status`); gRPC-Web
// as 200 with a body of just the trailer frame.
static void reply_error(listener *l, struct evhttp_request *req, ex_kind kind,
                        cpay__grpcweb_kind web, cpay_grpc_code code, int http_status,
                        const char *fmt, ...) CPAY_PRINTF(7, 8);
static void reply_error(listener *l, struct evhttp_request *req, ex_kind kind,
                        cpay__grpcweb_kind web, cpay_grpc_code code, int http_status,
                        const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  cpay_str m = cpay_str_from_c(msg ? msg : "out of memory");
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  add_cors(l, req, NULL);
  cpay_arena *a = cpay_arena_new();
  struct evbuffer *buf = evbuffer_new();
  if (kind == EX_GRPC_WEB) {
    cpay_bytes tr;
    if (a && buf && cpay__grpcweb_trailers(code, m, NULL, 0, web, a, &tr, NULL) == CPAY_OK) {
      evbuffer_add(buf, tr.data, tr.size);
    }
    evhttp_add_header(out, "content-type", web_type(web));
    send_reply(req, http_status ? http_status : 200, buf);
  } else {
    cpay_str js;
    cpay_json_encode_opts jo = json_opts(l);
    if (a && buf &&
        cpay__http_error_json(code, m, NULL, 0, NULL, &jo, a, &js, NULL) == CPAY_OK) {
      evbuffer_add(buf, js.data, js.size);
      evhttp_add_header(out, "content-type", "application/json");
    }
    send_reply(req, http_status ? http_status : cpay__http_status_of(code), buf);
  }
  if (buf) evbuffer_free(buf);
  cpay_arena_free(a);
  free(msg);
}

static bool md_key_ok(const char *k, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return !(n >= 5 && memcmp(k, "grpc-", 5) == 0);
}

// Headers of HTTP itself, of CORS and of the gRPC-Web protocol: never
// metadata.
static bool http_header(const char *k) {
  static const char *const kSkip[] = {
      "host", "connection", "content-length", "content-type", "accept", "accept-encoding",
      "accept-language", "user-agent", "te", "transfer-encoding", "keep-alive", "upgrade",
      "origin", "referer", "cookie", "x-grpc-web", "x-user-agent", "pragma", "cache-control",
      "dnt", "priority", "expect", "content-encoding", "proxy-connection", "via",
      "x-forwarded-for", "forwarded"};
  for (size_t i = 0; i < sizeof kSkip / sizeof kSkip[0]; i++) {
    if (strcmp(k, kSkip[i]) == 0) return true;
  }
  return strncmp(k, "sec-", 4) == 0 || strncmp(k, "access-control-", 15) == 0;
}

// One metadata entry onto the arena (the key lowercased, a -bin value
// decoded from base64); false when the arena is full.
static bool md_add(cpay_arena *a, cpay_md **md, size_t *count, size_t *cap, const char *key,
                   size_t klen, const char *value) {
  if (*count == *cap) {
    size_t n = *cap ? *cap * 2 : 8;
    cpay_md *grown = cpay_arena_realloc(a, *md, *cap * sizeof **md, n * sizeof **md);
    if (!grown) return false;
    *md = grown;
    *cap = n;
  }
  char *k = cpay_arena_malloc(a, klen + 1);
  if (!k) return false;
  for (size_t i = 0; i < klen; i++) k[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
  k[klen] = 0;
  cpay_str v = cpay_str_from_c(value);
  if (md_is_bin((cpay_str){k, klen})) {
    cpay_bytes b;
    cpay_code c = cpay__http_b64_decode(value, strlen(value), a, &b);
    if (c == CPAY_ERR_NO_MEMORY) return false;
    if (c != CPAY_OK) return true;  // not base64: left out
    v = (cpay_str){(const char *)b.data, b.size};
  }
  (*md)[(*count)++] = (cpay_md){{k, klen}, v};
  return true;
}

// The call's metadata from the request headers (see cpay_http_opts), the
// client's address as x-forwarded-for, and its deadline from grpc-timeout.
static cpay_code collect_md(listener *l, struct evhttp_request *req, ex_kind kind,
                            cpay_arena *a, cpay_call_opts *co, cpay_status *st) {
  cpay_md *md = NULL;
  size_t count = 0, cap = 0;
  co->timeout_ms = -1;  // none unless asked
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) {
    char key[128];
    size_t n = strlen(h->key);
    if (n >= sizeof key) continue;
    for (size_t i = 0; i <= n; i++) {
      char c = h->key[i];
      key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (strcmp(key, "grpc-timeout") == 0) {
      int64_t ms;
      cpay_code c = cpay__grpc_timeout_ms(h->value, strlen(h->value), &ms, st);
      if (c != CPAY_OK) return c;
      co->timeout_ms = ms > 0 ? ms : 1;
      continue;
    }
    const char *mk = NULL;
    size_t mlen = 0;
    if (strncmp(key, "grpc-metadata-", 14) == 0) {
      mk = key + 14;
      mlen = n - 14;
    } else if (strcmp(key, "authorization") == 0 || (kind == EX_GRPC_WEB && !http_header(key))) {
      mk = key;
      mlen = n;
    } else {
      for (size_t i = 0; i < l->opts.forward_header_count; i++) {
        if (strcmp(key, l->opts.forward_headers[i]) == 0) {
          mk = key;
          mlen = n;
        }
      }
    }
    if (!mk || !md_key_ok(mk, mlen)) continue;
    if (!md_add(a, &md, &count, &cap, mk, mlen, h->value)) goto out_nomem;
  }
  char *host = NULL;
  uint16_t port = 0;
  evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
  if (host && !md_add(a, &md, &count, &cap, "x-forwarded-for", 15, host)) goto out_nomem;
  co->metadata = md;
  co->metadata_count = count;
  return CPAY_OK;
out_nomem:
  return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory for the request headers");
}

// Starts the call of an exchange whose request is bound; answers at once
// when it cannot start.
static void ex_start(exchange *ex, struct evhttp_request *req, const void *msg,
                     const cpay_call_opts *co, void *const *stream, size_t stream_count) {
  listener *l = ex->l;
  cpay_status st = {0};
  ex->req = req;
  ex->conn = evhttp_request_get_connection(req);
  ex->streaming = ex->m->kind == CPAY_METHOD_SERVER_STREAMING ||
                  ex->m->kind == CPAY_METHOD_BIDI_STREAMING;
  if (ex->streaming && !(ex->msg_arena = cpay_arena_new())) {
    reply_error(l, req, ex->kind, ex->web, CPAY_GRPC_RESOURCE_EXHAUSTED, 0, "out of memory");
    ex_free(ex);
    return;
  }
  bool one = ex->m->kind == CPAY_METHOD_UNARY || ex->m->kind == CPAY_METHOD_SERVER_STREAMING;
  pthread_mutex_lock(&l->mu);
  l->calls++;
  pthread_mutex_unlock(&l->mu);
  cpay_code c = cpay_call_start_async(l->ch, ex->m, co, one ? msg : NULL, &kReactor, ex,
                                      &ex->call, &st);
  if (c != CPAY_OK) {
    pthread_mutex_lock(&l->mu);
    if (--l->calls == 0) pthread_cond_broadcast(&l->calls_cv);
    pthread_mutex_unlock(&l->mu);
    reply_error(l, req, ex->kind, ex->web, cpay_grpc_code_from_cpay(c), 0, "%s",
                cpay_status_msg(&st));
    ex_free(ex);
    return;
  }
  evhttp_connection_set_closecb(ex->conn, on_conn_close, ex);
  // Streams only: a unary call ends on its own (or at its deadline), and
  // the watch costs two epoll_ctl calls.
  evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(ex->conn));
  if (ex->streaming && fd >= 0) {
    ex->closed = event_new(l->base, fd, EV_CLOSED, on_peer_closed, ex);
    if (ex->closed) event_add(ex->closed, NULL);
  }
  for (size_t i = 0; i < stream_count; i++) {
    if (cpay_call_write(ex->call, stream[i], &st) != CPAY_OK) break;  // on_done says why
  }
  if (!one && cpay_call_close_send(ex->call, &st) != CPAY_OK) cpay_call_cancel(ex->call);
  if (ex->streaming) read_next(ex);
}

static exchange *ex_new(listener *l, ex_kind kind, cpay__grpcweb_kind web, const cpay_method *m) {
  exchange *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->l = l;
  ex->kind = kind;
  ex->web = web;
  ex->m = m;
  cpay_arena_opts ao = {.max_bytes = l->opts.max_body_bytes * 8 + ((size_t)1 << 20)};
  if (!(ex->arena = cpay_arena_new_opts(&ao))) {
    free(ex);
    return NULL;
  }
  return ex;
}

static cpay_str body_of(struct evhttp_request *req) {
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  unsigned char *p = n ? evbuffer_pullup(in, -1) : NULL;
  return (cpay_str){p ? (const char *)p : "", p ? n : 0};
}

static const char *verb_of(struct evhttp_request *req) {
  switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
  }
  return "?";
}

static void serve_rest(listener *l, struct evhttp_request *req) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
  if (!path || !*path) path = "/";
  exchange *ex = ex_new(l, EX_REST, CPAY__GRPCWEB_NONE, NULL);
  if (!ex) {
    reply_error(l, req, EX_REST, 0, CPAY_GRPC_RESOURCE_EXHAUSTED, 503, "out of memory");
    return;
  }
  cpay_status st = {0};
  cpay__http_match match;
  cpay_str allow = {0};
  cpay_code c = cpay__http_router_match(l->router, verb_of(req), path, strlen(path), ex->arena,
                                        &match, &allow, &st);
  if (c == CPAY_ERR_UNIMPLEMENTED && allow.size) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "allow", allow.data);
  }
  if (c != CPAY_OK) {
    int hs = c == CPAY_ERR_NOT_FOUND       ? 404
             : c == CPAY_ERR_UNIMPLEMENTED ? 405
             : c == CPAY_ERR_NO_MEMORY     ? 503
                                           : 400;
    cpay_grpc_code g = c == CPAY_ERR_NOT_FOUND       ? CPAY_GRPC_NOT_FOUND
                       : c == CPAY_ERR_UNIMPLEMENTED ? CPAY_GRPC_UNIMPLEMENTED
                       : c == CPAY_ERR_NO_MEMORY     ? CPAY_GRPC_RESOURCE_EXHAUSTED
                                                     : CPAY_GRPC_INVALID_ARGUMENT;
    reply_error(l, req, EX_REST, 0, g, hs, "%s", cpay_status_msg(&st));
    ex_free(ex);
    return;
  }
  ex->b = match.binding;
  ex->m = match.binding->method;
  if (ex->m->kind == CPAY_METHOD_CLIENT_STREAMING || ex->m->kind == CPAY_METHOD_BIDI_STREAMING) {
    reply_error(l, req, EX_REST, 0, CPAY_GRPC_UNIMPLEMENTED, 501,
                "%s: client and bidirectional streaming are not served over REST "
                "(use gRPC or gRPC-Web)",
                ex->m->path);
    ex_free(ex);
    return;
  }
  void *msg = NULL;
  cpay_str body = body_of(req);
  cpay__http_bind_opts bo = {.max_body = l->opts.max_body_bytes,
                             .max_depth = l->opts.max_json_depth,
                             .registry = l->opts.registry};
  c = cpay__http_bind(&match, query, query ? strlen(query) : 0, body.data, body.size, &bo,
                      ex->arena, &msg, &st);
  cpay_call_opts co = {0};
  if (c == CPAY_OK) c = collect_md(l, req, EX_REST, ex->arena, &co, &st);
  if (c != CPAY_OK) {
    cpay_grpc_code g = c == CPAY_ERR_NO_MEMORY   ? CPAY_GRPC_RESOURCE_EXHAUSTED
                       : c == CPAY_ERR_TOO_LARGE ? CPAY_GRPC_RESOURCE_EXHAUSTED
                                                 : CPAY_GRPC_INVALID_ARGUMENT;
    reply_error(l, req, EX_REST, 0, g, c == CPAY_ERR_TOO_LARGE ? 413 : 0, "%s",
                cpay_status_msg(&st));
    ex_free(ex);
    return;
  }
  ex_start(ex, req, msg, &co, NULL, 0);
}

// The method of a gRPC-Web path, "/package.Service/Method".
static const cpay_method *find_method(const listener *l, const char *path) {
  for (size_t i = 0; i < l->method_count; i++) {
    if (strcmp(l->methods[i].path, path) == 0) return &l->methods[i];
  }
  return NULL;
}

// The request messages of a gRPC-Web body, collected by the frame reader.
typedef struct web_body {
  const cpay_msg_table *t;
  cpay_arena *a;
  void **msgs;
  size_t count, cap;
} web_body;

static cpay_code take_frame(void *ctx, const uint8_t *data, size_t len, bool compressed,
                            cpay_status *st) {
  web_body *wb = ctx;
  (void)compressed;  // refused by the reader
  if (wb->count == wb->cap) {
    size_t n = wb->cap ? wb->cap * 2 : 4;
    void **grown = cpay_arena_realloc(wb->a, wb->msgs, wb->cap * sizeof *grown, n * sizeof *grown);
    if (!grown) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
    wb->msgs = grown;
    wb->cap = n;
  }
  void *msg = cpay_msg_new(wb->t, wb->a);
  if (!msg) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  cpay_status dst = {0};
  cpay_code c = cpay_decode(data, len, msg, wb->t, wb->a, NULL, &dst);
  if (c != CPAY_OK) {
    return cpay_status_set(st, c == CPAY_ERR_NO_MEMORY ? c : CPAY_ERR_INVALID_ARGUMENT,
                           "request message %zu is not a %s: %s", wb->count + 1, wb->t->full_name,
                           cpay_status_msg(&dst));
  }
  wb->msgs[wb->count++] = msg;
  return CPAY_OK;
}

static void serve_grpc_web(listener *l, struct evhttp_request *req, cpay__grpcweb_kind web) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    reply_error(l, req, EX_GRPC_WEB, web, CPAY_GRPC_UNIMPLEMENTED, 405,
                "gRPC-Web requests are POST");
    return;
  }
  const cpay_method *m = path ? find_method(l, path) : NULL;
  if (!m) {
    reply_error(l, req, EX_GRPC_WEB, web, CPAY_GRPC_UNIMPLEMENTED, 0, "unknown method %s",
                path ? path : "");
    return;
  }
  exchange *ex = ex_new(l, EX_GRPC_WEB, web, m);
  if (!ex) {
    reply_error(l, req, EX_GRPC_WEB, web, CPAY_GRPC_RESOURCE_EXHAUSTED, 0, "out of memory");
    return;
  }
  cpay_status st = {0};
  web_body wb = {.t = m->request, .a = ex->arena};
  cpay__grpcweb_reader rd;
  cpay__grpcweb_reader_init(&rd, web, l->opts.max_body_bytes, false, ex->arena);
  cpay_str body = body_of(req);
  cpay_code c = cpay__grpcweb_reader_feed(&rd, body.data, body.size, take_frame, &wb, &st);
  if (c == CPAY_OK) c = cpay__grpcweb_reader_finish(&rd, take_frame, &wb, &st);
  bool one = m->kind == CPAY_METHOD_UNARY || m->kind == CPAY_METHOD_SERVER_STREAMING;
  if (c == CPAY_OK && one && wb.count != 1) {
    c = cpay_status_set(&st, CPAY_ERR_INVALID_ARGUMENT, "%s takes one request message, got %zu",
                        m->path, wb.count);
  }
  cpay_call_opts co = {0};
  if (c == CPAY_OK) c = collect_md(l, req, EX_GRPC_WEB, ex->arena, &co, &st);
  if (c != CPAY_OK) {
    cpay_grpc_code g = c == CPAY_ERR_NO_MEMORY || c == CPAY_ERR_TOO_LARGE
                           ? CPAY_GRPC_RESOURCE_EXHAUSTED
                           : CPAY_GRPC_INVALID_ARGUMENT;
    reply_error(l, req, EX_GRPC_WEB, web, g, 0, "%s", cpay_status_msg(&st));
    ex_free(ex);
    return;
  }
  ex_start(ex, req, one ? wb.msgs[0] : NULL, &co, one ? NULL : wb.msgs, one ? 0 : wb.count);
}

static void on_request(struct evhttp_request *req, void *arg) {
  listener *l = arg;
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *ct = evhttp_find_header(in, "content-type");
  const char *origin = evhttp_find_header(in, "origin");
  pthread_mutex_lock(&l->mu);
  bool stopping = l->stopping;
  pthread_mutex_unlock(&l->mu);
  cpay__grpcweb_kind web = CPAY__GRPCWEB_NONE;
  cpay_status st = {0};
  cpay_code c = ct ? cpay__grpcweb_content_type(ct, strlen(ct), &web, &st) : CPAY_OK;
  ex_kind kind = web ? EX_GRPC_WEB : EX_REST;
  if (stopping) {
    reply_error(l, req, kind, web, CPAY_GRPC_UNAVAILABLE, 503, "the server is shutting down");
  } else if (evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS &&
             evhttp_find_header(in, "access-control-request-method")) {
    preflight(l, req, origin);
  } else if (c != CPAY_OK) {
    reply_error(l, req, EX_REST, 0, CPAY_GRPC_UNIMPLEMENTED, 415, "%s", cpay_status_msg(&st));
  } else if (web && !l->opts.rest_only) {
    serve_grpc_web(l, req, web);
  } else if (!web && !l->opts.grpc_web_only) {
    serve_rest(l, req);
  } else {
    reply_error(l, req, kind, web, CPAY_GRPC_UNIMPLEMENTED, 404, "%s is not served here",
                web ? "gRPC-Web" : "REST");
  }
}

// ---- TLS -------------------------------------------------------------------------------

static struct bufferevent *tls_bev(struct event_base *base, void *arg) {
  listener *l = arg;
  SSL *ssl = SSL_new(l->ssl);
  if (!ssl) return NULL;
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

// An SSL_CTX serving the PEM certificate chain and key.
static SSL_CTX *tls_ctx(const char *chain, const char *key, cpay_status *st) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  BIO *cb = BIO_new_mem_buf(chain, -1);
  BIO *kb = BIO_new_mem_buf(key, -1);
  X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
  EVP_PKEY *pkey = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
  bool ok = ctx && cert && pkey && SSL_CTX_use_certificate(ctx, cert) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  // The rest of the chain.
  for (X509 *extra; ok && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL));) {
    if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      ok = false;
    }
  }
  ERR_clear_error();  // the end of the chain reads as an error
  X509_free(cert);
  EVP_PKEY_free(pkey);
  BIO_free(cb);
  BIO_free(kb);
  if (!ok) {
    SSL_CTX_free(ctx);
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                    "http: tls: the certificate chain or key does not load, or they do not match");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  return ctx;
}

// ---- the listener's life -----------------------------------------------------------------

static void *listener_main(void *arg) {
  listener *l = arg;
  event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
  return NULL;
}

// The server's methods as the listener calls them: untyped callbacks (the
// exchange handles every type), and the routes of their bindings.
static cpay_code build_routes(listener *l, cpay_status *st) {
  size_t n = 0;
  for (size_t i = 0; i < cpay__server_service_count(l->srv); i++) {
    n += cpay__server_service(l->srv, i)->method_count;
  }
  if (n && !(l->methods = calloc(n, sizeof *l->methods))) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  }
  if (!(l->router = cpay__http_router_new(st))) return CPAY_ERR_NO_MEMORY;
  for (size_t i = 0; i < cpay__server_service_count(l->srv); i++) {
    const cpay_service_desc *svc = cpay__server_service(l->srv, i);
    for (size_t k = 0; k < svc->method_count; k++) {
      cpay_method *m = &l->methods[l->method_count++];
      *m = svc->methods[k];
      m->server_deliver = NULL;
      m->client_deliver = NULL;
      if (!m->request_desc || !m->http_rule_count) continue;  // gRPC-Web only
      cpay_code c = cpay__http_router_add(l->router, m, NULL, st);
      if (c != CPAY_OK) return c;
    }
  }
  return CPAY_OK;
}

static cpay_code listener_start(void *ctx, cpay_server *srv, cpay_status *st) {
  listener *l = ctx;
  cpay_code c = build_routes(l, st);
  if (c != CPAY_OK) return c;
  // Requests up to the body limit fit the send queue at once (gRPC-Web
  // client streams write them all before reading).
  cpay_channel_opts co = {.default_timeout_ms = -1,
                          .max_recv_size = -1,
                          .send_queue_bytes = l->opts.max_body_bytes + ((size_t)64 << 10)};
  if (!(l->ch = cpay__server_bridge(srv, &co, st))) return CPAY_ERR_UNAVAILABLE;
  evthread_use_pthreads();
  if (!(l->base = event_base_new()) || !(l->http = evhttp_new(l->base)) ||
      !(l->wake = event_new(l->base, -1, 0, on_wake, l))) {
    return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "http: out of memory for the event loop");
  }
  if (evhttp_accept_socket(l->http, l->fd) != 0) {
    return cpay_status_set(st, CPAY_ERR_UNAVAILABLE, "http: cannot accept on port %d", l->port);
  }
  l->fd = -1;  // evhttp's now
  evhttp_set_max_body_size(l->http, (ev_ssize_t)l->opts.max_body_bytes);
  evhttp_set_max_headers_size(l->http, (ev_ssize_t)l->opts.max_header_bytes);
  if (l->opts.io_timeout_ms > 0) {
    struct timeval tv = {(time_t)(l->opts.io_timeout_ms / 1000),
                         (suseconds_t)(l->opts.io_timeout_ms % 1000 * 1000)};
    evhttp_set_timeout_tv(l->http, &tv);
  }
  evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                          EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
  evhttp_set_default_content_type(l->http, "application/json");
  if (l->ssl) evhttp_set_bevcb(l->http, tls_bev, l);
  evhttp_set_gencb(l->http, on_request, l);
  if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
    return cpay_status_set(st, CPAY_ERR_UNAVAILABLE, "http: cannot start the listener thread");
  }
  l->running = true;
  return CPAY_OK;
}

static void listener_stop(void *ctx) {
  listener *l = ctx;
  pthread_mutex_lock(&l->mu);
  l->stopping = true;
  pthread_mutex_unlock(&l->mu);
}

// The end of the listener thread: the last ends of streams, handed over by
// their calls' on_done, go to evhttp, and the loop runs on for up to
// SHUTDOWN_WRITE_MS so that evhttp writes them before the connections close.
static void on_exit_loop(evutil_socket_t fd, short what, void *arg) {
  listener *l = arg;
  (void)fd;
  (void)what;
  on_wake(-1, 0, l);
  struct timeval tv = {0, SHUTDOWN_WRITE_MS * 1000};
  event_base_loopexit(l->base, &tv);
}

static void listener_free(void *ctx) {
  listener *l = ctx;
  // Every server call has ended; the bridge's calls end too once their
  // statuses have crossed the socketpair (milliseconds): wait for that, up
  // to CLOSE_WAIT_MS, rather than have cpay_channel_free cancel them and
  // turn a stream's UNAVAILABLE into CANCELLED. Their on_done hand the last
  // responses to the listener thread, which sends them before it stops.
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += CLOSE_WAIT_MS / 1000;
  pthread_mutex_lock(&l->mu);
  while (l->calls > 0 && pthread_cond_timedwait(&l->calls_cv, &l->mu, &until) == 0) {
  }
  pthread_mutex_unlock(&l->mu);
  cpay_channel_free(l->ch);
  if (l->running) {
    event_base_once(l->base, -1, EV_TIMEOUT, on_exit_loop, l, NULL);
    pthread_join(l->thread, NULL);
  }
  if (l->http) evhttp_free(l->http);
  if (l->wake) event_free(l->wake);
  if (l->base) event_base_free(l->base);
  if (l->fd >= 0) close(l->fd);
  cpay__http_router_free(l->router);
  free(l->methods);
  SSL_CTX_free(l->ssl);
  for (size_t i = 0; i < l->string_count; i++) free(l->strings[i]);
  free(l->strings);
  free((void *)l->opts.forward_headers);
  free((void *)l->opts.cors_origins);
  cpay_arena_free(l->reg_arena);
  pthread_cond_destroy(&l->calls_cv);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

// ---- cpay_server_listen_http -------------------------------------------------------------

// Copies a list of strings into l->strings, lowercased when `lower`;
// *out points at the copies.
static bool copy_list(listener *l, const char *const *in, size_t n, bool lower,
                      const char *const **out) {
  if (!n) return true;
  const char **list = calloc(n, sizeof *list);
  char **grown = list ? realloc(l->strings, (l->string_count + n) * sizeof *grown) : NULL;
  if (!grown) {
    free(list);
    return false;
  }
  l->strings = grown;
  *out = list;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(in[i]);
    char *s = malloc(len + 1);
    if (!s) return false;
    for (size_t k = 0; k <= len; k++) {
      char c = in[i][k];
      s[k] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    l->strings[l->string_count++] = s;
    list[i] = s;
  }
  return true;
}

// Binds and listens on "host:port" ("[v6]:port"); the socket, or -1.
static int bind_addr(const char *addr, int *port, cpay_status *st) {
  char host[256];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof host) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "http: address %s is not host:port", addr);
    return -1;
  }
  size_t hl = (size_t)(colon - addr);
  const char *h = addr;
  if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  memcpy(host, h, hl);
  host[hl] = 0;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
  if (rc != 0) {
    cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "http: address %s: %s", addr, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    cpay_status_set(st, CPAY_ERR_UNAVAILABLE, "http: cannot listen on %s: %s", addr,
                    strerror(err));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                         : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

cpay_code cpay_server_listen_http(cpay_server *srv, const char *addr, const cpay_http_opts *opts,
                                  int *port, cpay_status *st) {
  static const cpay_http_opts kDefaults;
  if (!opts) opts = &kDefaults;
  if (!srv || !addr) return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "http: NULL argument");
  if (opts->rest_only && opts->grpc_web_only) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "http: rest_only and grpc_web_only exclude each other");
  }
  if (opts->tls && (!opts->tls->cert_chain || !opts->tls->private_key)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT, "http: tls needs cert_chain and private_key");
  }
  if (opts->tls && (opts->tls->client_root_certs || opts->tls->require_client_cert)) {
    return cpay_status_set(st, CPAY_ERR_INVALID_ARGUMENT,
                           "http: client certificates are not supported on the HTTP listener");
  }
  listener *l = calloc(1, sizeof *l);
  if (!l) return cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->calls_cv, &ca);
  pthread_condattr_destroy(&ca);
  l->fd = -1;
  l->srv = srv;
  l->opts = *opts;
  l->opts.tls = NULL;
  l->opts.forward_headers = NULL;
  l->opts.cors_origins = NULL;
  if (!l->opts.max_body_bytes) l->opts.max_body_bytes = CPAY_HTTP_DEFAULT_MAX_BODY;
  if (!l->opts.max_header_bytes) l->opts.max_header_bytes = CPAY_HTTP_DEFAULT_MAX_HEADERS;
  if (!l->opts.io_timeout_ms) l->opts.io_timeout_ms = DEFAULT_IO_TIMEOUT_MS;
  cpay_code c = CPAY_OK;
  if (!copy_list(l, opts->forward_headers, opts->forward_header_count, true,
                 &l->opts.forward_headers) ||
      !copy_list(l, opts->cors_origins, opts->cors_origin_count, false, &l->opts.cors_origins) ||
      !(l->reg_arena = cpay_arena_new()) ||
      !(l->err_registry = cpay__http_error_registry(l->reg_arena, st))) {
    c = cpay_status_set(st, CPAY_ERR_NO_MEMORY, "out of memory");
    goto out_free;
  }
  if (opts->tls && !(l->ssl = tls_ctx(opts->tls->cert_chain, opts->tls->private_key, st))) {
    c = CPAY_ERR_INVALID_ARGUMENT;
    goto out_free;
  }
  if ((l->fd = bind_addr(addr, &l->port, st)) < 0) {
    c = CPAY_ERR_UNAVAILABLE;
    goto out_free;
  }
  cpay__server_hooks h = {listener_start, listener_stop, listener_free, l};
  c = cpay__server_attach(srv, &h, st);
  if (c != CPAY_OK) goto out_free;
  if (port) *port = l->port;
  return CPAY_OK;
out_free:
  listener_free(l);
  return c;
}
