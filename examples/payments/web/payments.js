// The payments web example's one module, in three parts:
//
// 1. protobuf: the binary wire format for exactly the messages of
//    proto/payments.proto this page sends and receives (varints, 64-bit
//    integers as BigInt, length-delimited strings; unknown fields skipped).
// 2. gRPC-Web over fetch (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md):
//    the request as one data frame, the response body read as it streams
//    in, frames reassembled across chunks, the trailer frame giving the
//    call's status.
// 3. The page: a charge form (ChargeCard) and the customer's transactions,
//    watched live (StreamTransactions) from load and on each customer change.
//
// No build step and no dependencies: a browser loads this file as it is.

// ---- 1. protobuf ---------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

// Message schemas: field name -> [number, type]. Types: "string", "int64"
// (a BigInt in JavaScript), "enum" (a Number). An "optional" field has
// explicit presence: it is written when set, even to its default; the others
// are proto3 implicit-presence fields, left out when they hold the default.
export const ChargeRequest = {
  customerId: [1, "string"],
  amountCents: [2, "int64"],
  currency: [3, "string"],
  idempotencyKey: [4, "string"],
  description: [5, "string", "optional"],
};
export const ChargeResponse = {
  transactionId: [1, "string"],
  status: [2, "enum"],
  processorReference: [3, "string"],
  processedAtUnix: [4, "int64"],
};
export const TransactionStreamRequest = {
  customerId: [1, "string"],
  sinceUnix: [2, "int64"],
};
export const Transaction = {
  id: [1, "string"],
  customerId: [2, "string"],
  amountCents: [3, "int64"],
  currency: [4, "string"],
  createdAtUnix: [5, "int64"],
};

// payments.v1.ChargeStatus
const CHARGE_STATUS = ["UNSPECIFIED", "SUCCESS", "DECLINED", "ERROR"];

function pushVarint(out, value) {
  // Negative int64s are sent as their 64-bit two's complement (10 bytes).
  let v = BigInt.asUintN(64, BigInt(value));
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function defaultOf(type) {
  return type === "string" ? "" : type === "int64" ? 0n : 0;
}

// Encodes `msg` (an object with the schema's field names) as bytes.
export function encodeMessage(schema, msg) {
  const out = [];
  for (const [name, [number, type, label]] of Object.entries(schema)) {
    const value = msg[name];
    if (value === undefined || value === null) continue;
    if (label !== "optional" && value === defaultOf(type)) continue;
    if (type === "string") {
      const bytes = utf8Encoder.encode(value);
      pushVarint(out, (number << 3) | WIRE_LEN);
      pushVarint(out, bytes.length);
      for (const b of bytes) out.push(b);
    } else {
      pushVarint(out, (number << 3) | WIRE_VARINT);
      pushVarint(out, type === "int64" ? BigInt(value) : value);
    }
  }
  return Uint8Array.from(out);
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  fail(what) {
    throw new Error(`malformed message: ${what} at offset ${this.pos}`);
  }

  varint() {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift > 63n) this.fail("varint longer than 10 bytes");
      if (this.pos >= this.bytes.length) this.fail("truncated varint");
      const b = this.bytes[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
  }

  take(n) {
    if (n > this.bytes.length - this.pos) this.fail(`length ${n} exceeds the remaining bytes`);
    const slice = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return slice;
  }

  lengthDelimited() {
    return this.take(Number(this.varint()));
  }

  skip(wireType) {
    switch (wireType) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_FIXED64: this.take(8); break;
      case WIRE_LEN: this.lengthDelimited(); break;
      case WIRE_FIXED32: this.take(4); break;
      default: this.fail(`unsupported wire type ${wireType}`);
    }
  }
}

// Decodes bytes into an object with every field of the schema (defaults
// for absent ones; an absent optional field stays undefined).
export function decodeMessage(schema, bytes) {
  const byNumber = new Map();
  const msg = {};
  for (const [name, [number, type, label]] of Object.entries(schema)) {
    byNumber.set(number, [name, type]);
    msg[name] = label === "optional" ? undefined : defaultOf(type);
  }
  const r = new Reader(bytes);
  while (r.pos < bytes.length) {
    const tag = r.varint();
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (number === 0) r.fail("field number 0");
    const field = byNumber.get(number);
    const want = field && (field[1] === "string" ? WIRE_LEN : WIRE_VARINT);
    if (!field || wireType !== want) {
      r.skip(wireType);  // unknown, or not this field's wire type
      continue;
    }
    const [name, type] = field;
    if (type === "string") {
      try {
        msg[name] = utf8Decoder.decode(r.lengthDelimited());
      } catch (err) {
        if (err instanceof TypeError) r.fail(`field ${number} (${name}) is not UTF-8`);
        throw err;
      }
    } else if (type === "int64") {
      msg[name] = BigInt.asIntN(64, r.varint());
    } else {
      msg[name] = Number(BigInt.asIntN(32, r.varint()));  // enums are int32
    }
  }
  return msg;
}

// ---- 2. gRPC-Web -----------------------------------------------------------------

// gRPC status codes, by number.
const CODE_NAMES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];
const UNKNOWN = 2;
const DEADLINE_EXCEEDED = 4;
const INTERNAL = 13;
const UNAVAILABLE = 14;

export class GrpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
    this.codeName = CODE_NAMES[code] ?? `code ${code}`;
  }
}

const FRAME_DATA = 0x00;
const FRAME_TRAILER = 0x80;
const MAX_FRAME = 4 << 20;

// Cuts a byte stream into gRPC-Web frames (a flag byte, a 4-byte big-endian
// length, the payload), whatever the chunks it arrives in: a frame header or
// payload may be split across any number of chunks.
export class FrameSplitter {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  // Adds a chunk; returns the frames it completes, as {flag, payload}.
  push(chunk) {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    this.buffer = joined;
    const frames = [];
    while (this.buffer.length >= 5) {
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset, 5);
      const length = view.getUint32(1);
      if (length > MAX_FRAME) throw new GrpcError(INTERNAL, `response frame of ${length} bytes`);
      if (this.buffer.length < 5 + length) break;
      frames.push({ flag: this.buffer[0], payload: this.buffer.slice(5, 5 + length) });
      this.buffer = this.buffer.subarray(5 + length);
    }
    return frames;
  }

  // Bytes of an unfinished frame held.
  get pending() {
    return this.buffer.length;
  }
}

// "grpc-status:0\r\ngrpc-message:...\r\n" into a Map of lowercase names.
function parseTrailers(bytes) {
  const trailers = new Map();
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return trailers;
}

// grpc-message is percent-encoded (gRPC's PROTOCOL-HTTP2.md).
function decodeGrpcMessage(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// The status of a response without a trailer frame: gRPC-Web also allows
// the status in the headers ("trailers-only"), and a non-200 HTTP status
// from something other than a gRPC-Web server maps as gRPC's HTTP mapping.
function statusFromHeaders(response) {
  const status = response.headers.get("grpc-status");
  if (status !== null) {
    return { code: Number(status), message: decodeGrpcMessage(response.headers.get("grpc-message") ?? "") };
  }
  if (response.status !== 200) {
    const byHttp = { 400: INTERNAL, 401: 16, 403: 7, 404: 12, 429: UNAVAILABLE, 502: UNAVAILABLE,
                     503: UNAVAILABLE, 504: UNAVAILABLE };
    return { code: byHttp[response.status] ?? UNKNOWN, message: `HTTP ${response.status}` };
  }
  return null;
}

// Calls `method` ("/payments.v1.PaymentService/ChargeCard") at `baseUrl`
// with one request message (bytes), calling onMessage(bytes) for each
// response message as it arrives. Resolves when the call ends with OK;
// rejects with a GrpcError otherwise, or with the signal's reason once
// `signal` aborts the call. `baseUrl` may have a path ("https://host/api"):
// the method's path goes after it.
export async function grpcWebCall(baseUrl, method, requestBytes, { onMessage, signal, timeoutMs } = {}) {
  const body = new Uint8Array(5 + requestBytes.length);
  new DataView(body.buffer).setUint32(1, requestBytes.length);
  body.set(requestBytes, 5);
  const headers = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
  if (timeoutMs) headers["grpc-timeout"] = `${timeoutMs}m`;
  let response;
  try {
    response = await fetch(baseUrl.replace(/\/+$/, "") + method, { method: "POST", headers, body, signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    // fetch says no more than this, whether the server is down or CORS refused.
    throw new GrpcError(UNAVAILABLE, `cannot reach ${baseUrl} (${err.message}): is payments-server ` +
      `running there, with --cors-origin ${location.origin}?`);
  }
  const early = statusFromHeaders(response);
  // Content-Type is readable across origins without being exposed.
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.startsWith("application/grpc-web")) {
    if (early?.code === 0) return;
    throw new GrpcError(early?.code ?? UNKNOWN,
      early?.message ?? `not a gRPC-Web response (content-type "${contentType}")`);
  }

  const splitter = new FrameSplitter();
  let trailers = null;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const frame of splitter.push(value)) {
        if (trailers) throw new GrpcError(INTERNAL, "data after the trailer frame");
        if (frame.flag === FRAME_TRAILER) {
          trailers = parseTrailers(frame.payload);
        } else if (frame.flag === FRAME_DATA) {
          onMessage?.(frame.payload);
        } else {
          throw new GrpcError(INTERNAL, `unexpected frame flag 0x${frame.flag.toString(16)}`);
        }
      }
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    if (signal?.aborted) throw signal.reason;
    if (err instanceof GrpcError) throw err;
    if (err instanceof TypeError) throw new GrpcError(UNAVAILABLE, `the response broke off: ${err.message}`);
    throw new GrpcError(INTERNAL, err.message);  // a message that does not decode
  }
  if (splitter.pending) throw new GrpcError(INTERNAL, "the response ended inside a frame");
  if (!trailers) {
    if (early) {
      if (early.code !== 0) throw new GrpcError(early.code, early.message);
      return;
    }
    throw new GrpcError(INTERNAL, "the response ended without a grpc-status");
  }
  const code = Number(trailers.get("grpc-status") ?? UNKNOWN);
  if (code !== 0) throw new GrpcError(code, decodeGrpcMessage(trailers.get("grpc-message") ?? ""));
}

// A unary call: resolves with the one response message's bytes.
export async function grpcWebUnary(baseUrl, method, requestBytes, timeoutMs) {
  const messages = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new GrpcError(DEADLINE_EXCEEDED,
    `no answer in ${timeoutMs} ms`)), timeoutMs + 1000);
  try {
    await grpcWebCall(baseUrl, method, requestBytes,
      { onMessage: (m) => messages.push(m), signal: abort.signal, timeoutMs });
  } finally {
    clearTimeout(timer);
  }
  if (messages.length !== 1) throw new GrpcError(INTERNAL, `${messages.length} responses to a unary call`);
  return messages[0];
}

// ---- 3. the page -------------------------------------------------------------------

const SERVICE = "/payments.v1.PaymentService/";
const CHARGE_TIMEOUT_MS = 10000;

const params = new URLSearchParams(location.search);
// The API's base URL; the page's own origin when it is served by the API.
const api = new URL(params.get("api") || location.origin).href;

const $ = (id) => document.getElementById(id);

function setStatus(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

function formatAmount(cents, currency) {
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")} ${currency}`;
}

// An idempotency key per click: a retry of the same click would reuse it.
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---- watching a customer's transactions

let watching = null;  // {customer, abort}

function showTransaction(tx) {
  const list = $("transactions");
  if (list.querySelector(`li[data-id="${CSS.escape(tx.id)}"]`)) return;
  const li = document.createElement("li");
  li.dataset.id = tx.id;
  li.dataset.amountCents = String(tx.amountCents);
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = tx.id;
  const amount = document.createElement("span");
  amount.className = "amount";
  amount.textContent = formatAmount(tx.amountCents, tx.currency);
  li.append(id, amount);
  list.prepend(li);  // newest first
}

const RECONNECT_MS = 3000;

function watch(customer) {
  if (watching?.customer === customer) return;
  watching?.abort.abort();
  const current = { customer, abort: new AbortController() };
  watching = current;
  $("list-customer").textContent = customer;
  $("transactions").replaceChildren();
  subscribe(current);
}

// One StreamTransactions call for `current`; when it fails, another after
// a pause (the list keeps what it has: transactions sent again are skipped).
async function subscribe(current) {
  const { customer, abort } = current;
  const live = $("live-status");
  // The server sends the call's headers once the subscription is registered
  // (its initial metadata); until a first transaction comes there is
  // nothing to show.
  setStatus(live, "open", `Watching ${customer}: waiting for transactions…`);
  const request = encodeMessage(TransactionStreamRequest, { customerId: customer, sinceUnix: 0n });
  try {
    await grpcWebCall(api, SERVICE + "StreamTransactions", request, {
      signal: abort.signal,
      onMessage: (bytes) => {
        if (watching !== current) return;
        showTransaction(decodeMessage(Transaction, bytes));
        const count = $("transactions").children.length;
        setStatus(live, "live", `Watching ${customer} live: ${count} transaction${count === 1 ? "" : "s"}.`);
      },
    });
    if (watching === current) setStatus(live, "ended", `The server ended the stream of ${customer}.`);
  } catch (err) {
    if (watching !== current || abort.signal.aborted) return;  // another customer now
    setStatus(live, "error", `Stream of ${customer} failed: ${describe(err)}; ` +
      `reconnecting in ${RECONNECT_MS / 1000} s.`);
    setTimeout(() => {
      if (watching === current) subscribe(current);
    }, RECONNECT_MS);
  }
}

function describe(err) {
  return err instanceof GrpcError ? `${err.codeName}: ${err.message}` : String(err.message ?? err);
}

// ---- charging

async function charge(event) {
  event.preventDefault();
  const status = $("charge-status");
  const customer = $("customer").value.trim();
  const amountText = $("amount").value.trim();
  const currency = $("currency").value.trim().toUpperCase();
  // The server validates the charge; the page only refuses what is not an
  // integer, which has no int64 to send.
  if (!/^-?\d{1,18}$/.test(amountText)) {
    setStatus(status, "error", "The amount must be a whole number of cents.");
    return;
  }
  watch(customer);  // the list follows the form's customer
  const button = $("charge");
  button.disabled = true;
  setStatus(status, "pending", `Charging ${formatAmount(BigInt(amountText), currency)} to ${customer}…`);
  try {
    const request = encodeMessage(ChargeRequest, {
      customerId: customer,
      amountCents: BigInt(amountText),
      currency,
      idempotencyKey: newIdempotencyKey(),
    });
    const bytes = await grpcWebUnary(api, SERVICE + "ChargeCard", request, CHARGE_TIMEOUT_MS);
    const resp = decodeMessage(ChargeResponse, bytes);
    const outcome = CHARGE_STATUS[resp.status] ?? `status ${resp.status}`;
    status.dataset.transactionId = resp.transactionId;
    setStatus(status, outcome === "SUCCESS" ? "ok" : "error",
      `${outcome === "SUCCESS" ? "Charged" : outcome}: transaction ${resp.transactionId} ` +
      `(${resp.processorReference}).`);
  } catch (err) {
    delete status.dataset.transactionId;
    setStatus(status, "error", `Charge failed: ${describe(err)}`);
  } finally {
    button.disabled = false;
  }
}

function start() {
  $("api").textContent = api;
  const first = params.get("customer");
  if (first) $("customer").value = first;
  $("charge-form").addEventListener("submit", charge);
  $("customer").addEventListener("change", () => {
    const customer = $("customer").value.trim();
    if (customer) watch(customer);
  });
  watch($("customer").value.trim());
}

start();
