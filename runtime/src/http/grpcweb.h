// gRPC-Web framing for the HTTP listener (issue 18), per
// https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md: the frames
// of gRPC (a flag byte, a 4-byte big-endian length, the payload), the
// status and trailing metadata as a last frame with flag 0x80 in the body,
// and for application/grpc-web-text the body in base64, which a client may
// send as several padded chunks ("AAAA==AAAAAA==").
//
// Supported: protobuf payloads ("application/grpc-web", "+proto", and the
// "-text" forms), identity encoding only. Not supported: grpc-web+json (or
// any other codec), and compressed frames (grpc-encoding).
//
// Also here: the grpc-timeout header, which gRPC-Web requests carry as
// gRPC's do.
#ifndef CPAY_SRC_HTTP_GRPCWEB_H_
#define CPAY_SRC_HTTP_GRPCWEB_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpay/grpc.h"

// ---- content types -------------------------------------------------------------

typedef enum cpay__grpcweb_kind {
  CPAY__GRPCWEB_NONE = 0,    // not gRPC-Web: REST, or something else
  CPAY__GRPCWEB_BINARY = 1,  // application/grpc-web, application/grpc-web+proto
  CPAY__GRPCWEB_TEXT = 2,    // application/grpc-web-text[+proto], ...-text-base64
} cpay__grpcweb_kind;

// Which gRPC-Web body a Content-Type (`len` bytes; case-insensitive,
// parameters after ';' ignored) announces, into *kind: CPAY_OK with
// CPAY__GRPCWEB_NONE for anything that is not application/grpc-web*.
// CPAY_ERR_UNIMPLEMENTED (answer 415) for a gRPC-Web codec other than
// protobuf ("application/grpc-web+json": not supported).
CPAY_NODISCARD cpay_code cpay__grpcweb_content_type(const char *ct, size_t len,
                                                    cpay__grpcweb_kind *kind, cpay_status *st);

// ---- reading request bodies ------------------------------------------------------

// Called with each message of the body: `len` payload bytes, valid during
// the call only, and whether the frame was compressed (only when the reader
// allows it). A non-OK return stops the reader and is returned by _feed.
typedef cpay_code cpay__grpcweb_on_message(void *ctx, const uint8_t *msg, size_t len,
                                           bool compressed, cpay_status *st);

// An incremental reader of a request body: feed it the body in chunks of
// any size, split anywhere (also inside a base64 group or a frame header).
// Initialise with cpay__grpcweb_reader_init; the fields are private.
typedef struct cpay__grpcweb_reader {
  bool text;               // the body is base64 (CPAY__GRPCWEB_TEXT)
  bool allow_compressed;   // deliver compressed frames (flag 1) instead of refusing them
  size_t max_message;      // largest payload accepted
  cpay_arena *a;           // holds payloads split across chunks
  uint8_t quad[4];         // base64: the group being read
  unsigned quad_n, pad;    //   its characters so far, and how many were '='
  uint64_t text_off;       //   base64 characters read
  uint8_t hdr[5];          // the frame header being read
  unsigned hdr_n;
  bool compressed;
  uint64_t off;            // decoded bytes read
  uint64_t frame_off;      // where the current frame started
  size_t need, got;        // the current payload's length, and bytes of it held
  uint8_t *buf;            // payload bytes held (got of need)
  size_t buf_cap;
  bool failed;             // an error was returned: feeding again fails
} cpay__grpcweb_reader;

// Starts a reader of a body of `kind` (BINARY or TEXT) whose messages may
// have up to `max_message` bytes; payloads split across chunks are
// gathered on `a` (up to max_message bytes, grown by doubling). Compressed
// frames are refused unless `allow_compressed` (set it only when the
// request's grpc-encoding names a codec the caller will decompress with).
void cpay__grpcweb_reader_init(cpay__grpcweb_reader *r, cpay__grpcweb_kind kind,
                               size_t max_message, bool allow_compressed, cpay_arena *a);

// Reads `len` more bytes of the body, calling `fn` for each message
// completed. Errors, with the byte offset (of the decoded stream for frames;
// of the text for base64):
// - CPAY_ERR_INVALID_ARGUMENT: a trailer frame (flag 0x80: clients send
//   none), unknown flag bits, a compressed frame that is not allowed
//   ("... is compressed but the request named no grpc-encoding; only
//   identity is supported"), a character that is not base64, data after
//   '=' in a base64 group;
// - CPAY_ERR_TOO_LARGE (RESOURCE_EXHAUSTED): a frame longer than
//   max_message;
// - CPAY_ERR_NO_MEMORY; or what `fn` returned.
// After an error the reader refuses more input.
CPAY_NODISCARD cpay_code cpay__grpcweb_reader_feed(cpay__grpcweb_reader *r, const void *data,
                                                   size_t len, cpay__grpcweb_on_message *fn,
                                                   void *ctx, cpay_status *st);

// The end of the body: CPAY_ERR_INVALID_ARGUMENT when it stops inside a
// frame ("truncated") or inside a base64 group of one character (a final
// group of 2 or 3 characters without its '=' padding is accepted).
CPAY_NODISCARD cpay_code cpay__grpcweb_reader_finish(cpay__grpcweb_reader *r,
                                                     cpay__grpcweb_on_message *fn, void *ctx,
                                                     cpay_status *st);

// ---- writing response bodies -------------------------------------------------------

// A data frame: flag 0, the 4-byte length, `payload`; in base64 (with its
// padding) for CPAY__GRPCWEB_TEXT, so each frame can be sent as it is made.
// *out on `a`. CPAY_ERR_TOO_LARGE for a payload of 4 GiB or more.
CPAY_NODISCARD cpay_code cpay__grpcweb_data_frame(const uint8_t *payload, size_t len,
                                                  cpay__grpcweb_kind kind, cpay_arena *a,
                                                  cpay_bytes *out, cpay_status *st);

// The trailer frame that ends a response: flag 0x80, then
// "grpc-status:<code>\r\n", "grpc-message:<message>\r\n" (when the message
// is not empty; percent-encoded as gRPC's grpc-message is: bytes outside
// 0x20..0x7E, and '%'), then each entry of md[0 .. count) as
// "key:value\r\n" with the key in lower case and "-bin" values in base64
// (padded; for TEXT too, as Envoy's gRPC-Web filter sends them, though
// PROTOCOL-WEB.md says text bodies may skip that). In base64 for
// CPAY__GRPCWEB_TEXT. CPAY_ERR_INVALID_ARGUMENT for a key that is empty,
// has characters other than [0-9a-z_.-] (after lower-casing), or is
// grpc-status or grpc-message, and for a value of a key not ending in
// "-bin" with bytes outside 0x20..0x7E (a CR or LF would end the block).
CPAY_NODISCARD cpay_code cpay__grpcweb_trailers(cpay_grpc_code code, cpay_str message,
                                                const cpay_md *md, size_t count,
                                                cpay__grpcweb_kind kind, cpay_arena *a,
                                                cpay_bytes *out, cpay_status *st);

// ---- grpc-timeout --------------------------------------------------------------------

// The grpc-timeout header (`len` bytes): 1 to 8 digits and a unit, H
// (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds) or
// n (nanoseconds), into *ms, in milliseconds, rounded up (so "10u" is 1:
// a deadline never becomes none). CPAY_ERR_INVALID_ARGUMENT, naming the
// value, for anything else ("1.5S", "10", "123456789S", "5s").
CPAY_NODISCARD cpay_code cpay__grpc_timeout_ms(const char *s, size_t len, int64_t *ms,
                                               cpay_status *st);

// ---- base64 for header values -----------------------------------------------------

// Binary metadata ("-bin" keys) travels in HTTP headers as base64. Encodes
// `len` bytes (padded) onto `a`, NUL-terminated; CPAY_ERR_NO_MEMORY.
CPAY_NODISCARD cpay_code cpay__http_b64_encode(const void *data, size_t len, cpay_arena *a,
                                               cpay_str *out);
// Decodes standard base64, padded or not, onto `a`: CPAY_ERR_INVALID_ARGUMENT
// for a character outside the alphabet or a length no encoding has.
CPAY_NODISCARD cpay_code cpay__http_b64_decode(const char *s, size_t len, cpay_arena *a,
                                               cpay_bytes *out);

#endif  // CPAY_SRC_HTTP_GRPCWEB_H_
