// Allocation-failure sweep over the conformance messages (issue #9).
//
// Every runtime operation that allocates (binary decode with and without
// aliasing and into a message that already holds the input, binary encode
// plain and deterministic, JSON parse and print, text parse, print and
// debug print) runs on TestAllTypesProto3 and TestAllTypesProto2 (with its
// extensions) for every sample input: the fully populated messages of
// tests/interop/data and each fuzz-corpus input that parses with an
// unlimited allocator. Each operation is swept in five ways:
//
//   tiny   block_size 1, so that (past the first block) every arena
//          allocation is a block of its own; the Nth block allocation and
//          every later one fail, for N = 1, 2, ... until the operation
//          completes without reaching N;
//   small  the same with 256-byte first blocks growing geometrically (the
//          arena's normal path, and the encoder's borrowed-block path);
//   once   block_size 1, only the Nth allocation fails and later ones
//          succeed again (a transient failure: retries must be correct);
//   limit  the arena's max_bytes at every multiple of 8 until the
//          operation fits (block_size 256, so that the arena's fallback to
//          exact-size blocks under a limit is exercised);
//   fixed  a caller buffer and no allocator, of every size until the
//          operation fits (one size per multiple of 8 for the operations
//          other than binary encode, see fixed_size(); every size for all
//          of them with --full).
//
// For every failure point the operation must return CPAY_ERR_NO_MEMORY with
// the same code and a non-empty message in its cpay_status, a message it
// was parsing into must still encode (it holds the fields parsed so far),
// and after cpay_arena_free() the allocator must hold no block (a leak check
// of its own, independent of LeakSanitizer). When the operation succeeds its
// result (the output, or the deterministic encoding of the parsed message)
// must equal the result with an unlimited allocator, its status must be ok,
// and in the sticky modes no allocation may have failed. Fresh blocks are
// filled with garbage and freed blocks are poisoned, so reading memory the
// arena never wrote, or a block after its arena is freed, shows up even
// without AddressSanitizer.
//
// Usage: alloc-fail [--full] INTEROP_DATA_DIR FUZZ_CORPUS_DIR
// Prints TAP (one test per message and operation, with the number of
// failure points swept per mode as a diagnostic line).
#define _POSIX_C_SOURCE 200809L  // scandir

#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpay/text.h"
#include "cpay/wkt.h"
#include "test_messages_proto2.cpay.h"
#include "test_messages_proto3.cpay.h"

// ---- the counting block allocator ---------------------------------------------------------

// Precedes every block handed to the arena; 16 bytes keep malloc's alignment.
typedef struct blk_hdr {
  size_t size;
  size_t magic;
} blk_hdr;

#define BLK_MAGIC ((size_t)0xB10CB10Cu)

typedef struct counter {
  cpay_alloc alloc;
  size_t calls;        // allocation requests since the last counter_arm()
  size_t fail_at;      // 0: never fail; else fail request number fail_at ...
  bool sticky;         // ... and, when sticky, every later one
  size_t injected;     // failures returned since the last counter_arm()
  size_t live_blocks;  // blocks handed out and not freed
  size_t live_bytes;
  size_t misuse;  // frees of unknown blocks or with the wrong size, in-place regrowth
} counter;

static void *counter_fn(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  counter *c = ctx;
  if (new_size == 0) {
    if (!ptr) return NULL;
    blk_hdr *h = (blk_hdr *)ptr - 1;
    if (h->magic != BLK_MAGIC || h->size != old_size || c->live_blocks == 0) {
      c->misuse++;
      return NULL;  // not ours, or freed twice: leave it alone
    }
    c->live_blocks--;
    c->live_bytes -= h->size;
    h->magic = 0;
    memset(ptr, 0xDD, h->size);
    free(h);
    return NULL;
  }
  if (ptr) {
    c->misuse++;  // the arena documents that it never regrows a block
    return NULL;
  }
  c->calls++;
  if (c->fail_at && (c->calls == c->fail_at || (c->sticky && c->calls > c->fail_at))) {
    c->injected++;
    return NULL;
  }
  blk_hdr *h = malloc(sizeof(*h) + new_size);
  if (!h) return NULL;
  h->size = new_size;
  h->magic = BLK_MAGIC;
  memset(h + 1, 0xA5, new_size);
  c->live_blocks++;
  c->live_bytes += new_size;
  return h + 1;
}

static void counter_init(counter *c) {
  memset(c, 0, sizeof(*c));
  c->alloc.fn = counter_fn;
  c->alloc.ctx = c;
}

// Starts counting requests; fail_at 0 never fails.
static void counter_arm(counter *c, size_t fail_at, bool sticky) {
  c->calls = 0;
  c->injected = 0;
  c->fail_at = fail_at;
  c->sticky = sticky;
}

static void counter_disarm(counter *c) { c->fail_at = 0; }

// ck_assert_msg() records a checkpoint (a write to Check's pipe) on every
// call, and the sweeps check millions of conditions: EXPECT() calls Check
// only when a condition fails.
#define EXPECT(cond, ...)                   \
  do {                                      \
    if (!(cond)) ck_abort_msg(__VA_ARGS__); \
  } while (0)

// ---- samples ------------------------------------------------------------------------------

// One message type under test.
typedef struct kind {
  const char *name;
  const cpay_msg_desc *j;
} kind;

static const kind kinds[] = {
    {"proto3", &protobuf_test_messages_proto3_TestAllTypesProto3_desc},
    {"proto2", &protobuf_test_messages_proto2_TestAllTypesProto2_desc},
};
enum { KIND_COUNT = sizeof(kinds) / sizeof(kinds[0]) };

// One input in every form it has. Everything lives on g_arena.
typedef struct sample {
  char name[96];   // where it came from, e.g. "corpus/json/maps.json"
  void *msg;       // the message itself (for the encoders and printers)
  void *json_msg;  // what the JSON printer prints: msg, or a copy JSON can express
  cpay_bytes bin;  // binary form ({NULL, 0} with has_bin false: none)
  cpay_str json;   // compact JSON
  cpay_str text;   // text format
  bool has_bin, has_json, has_text;
} sample;

#define MAX_SAMPLES 64

static cpay_arena *g_arena;  // samples and registries; freed at exit
static cpay_registry *g_reg;
static cpay_extreg *g_ext;
static sample g_samples[KIND_COUNT][MAX_SAMPLES];
static size_t g_nsamples[KIND_COUNT];

// ---- operations ---------------------------------------------------------------------------

typedef enum op {
  OP_DECODE,
  OP_DECODE_ALIAS,
  OP_DECODE_MERGE,  // into a message that already holds the input
  OP_ENCODE,
  OP_ENCODE_DET,
  OP_JSON_PARSE,
  OP_JSON_PRINT,  // indented, so that the newline path runs too
  OP_TEXT_PARSE,
  OP_TEXT_PRINT,  // with unknown fields
  OP_TEXT_DEBUG,  // never fails: a fixed string when out of memory
  OP_COUNT,
} op;

static const char *const op_names[OP_COUNT] = {
    "decode",     "decode-alias", "decode-merge", "encode",     "encode-det",
    "json-parse", "json-print",   "text-parse",   "text-print", "text-debug",
};

static bool op_parses(op o) {
  return o == OP_DECODE || o == OP_DECODE_ALIAS || o == OP_DECODE_MERGE || o == OP_JSON_PARSE ||
         o == OP_TEXT_PARSE;
}

static bool op_applies(op o, const sample *s) {
  switch (o) {
    case OP_DECODE:
    case OP_DECODE_ALIAS:
    case OP_DECODE_MERGE:
      return s->has_bin;
    case OP_JSON_PARSE:
      return s->has_json;
    case OP_TEXT_PARSE:
      return s->has_text;
    default:
      return true;
  }
}

static const char kDebugOom[] = "<out of memory>";

// What one run of an operation gave.
typedef struct outcome {
  bool setup_failed;  // the arena could not hold the operation's target message
  cpay_code code;
  cpay_status st;
  const uint8_t *data;  // the result: the output, or the parsed message's encoding
  size_t size;
  bool debug_oom;     // OP_TEXT_DEBUG returned its out-of-memory string
  cpay_code partial;  // parse ops that failed: encoding what was parsed so far
  cpay_status partial_st;
} outcome;

static cpay_code decode_into(const kind *k, const sample *s, void *msg, cpay_arena *a,
                             uint32_t flags, cpay_status *st) {
  cpay_decode_opts o = {0};
  o.flags = flags;
  o.extreg = g_ext;
  return cpay_decode(s->bin.data, s->bin.size, msg, k->j->table, a, &o, st);
}

// The deterministic encoding of `msg` on `scratch`, required fields or not.
static cpay_code encode_det(const kind *k, const void *msg, cpay_arena *scratch, cpay_bytes *out,
                            cpay_status *st) {
  cpay_encode_opts o = {0};
  o.flags = CPAY_ENCODE_DETERMINISTIC | CPAY_ENCODE_ALLOW_PARTIAL;
  return cpay_encode(msg, k->j->table, scratch, &o, out, st);
}

// Runs `o` on arena `a`. With `c`, allocations are counted (and fail as
// armed) during the operation itself only: creating the target message (and,
// for decode-merge, the first decode) happens before. Results are written
// to `scratch`, which must not fail.
static void run_op(op o, const kind *k, const sample *s, cpay_arena *a, counter *c, size_t fail_at,
                   bool sticky, cpay_arena *scratch, outcome *out) {
  memset(out, 0, sizeof(*out));
  cpay_status_clear(&out->st);
  cpay_status_clear(&out->partial_st);
  const cpay_msg_table *t = k->j->table;
  void *target = NULL;
  if (op_parses(o)) {
    target = cpay_msg_new(t, a);
    if (!target) {
      out->setup_failed = true;
      return;
    }
    if (o == OP_DECODE_MERGE && decode_into(k, s, target, a, 0, &out->st) != CPAY_OK) {
      out->setup_failed = true;
      return;
    }
  }
  if (c) counter_arm(c, fail_at, sticky);
  cpay_str str = {NULL, 0};
  cpay_bytes bytes = {NULL, 0};
  switch (o) {
    case OP_DECODE:
    case OP_DECODE_MERGE:
      out->code = decode_into(k, s, target, a, 0, &out->st);
      break;
    case OP_DECODE_ALIAS:
      out->code = decode_into(k, s, target, a, CPAY_DECODE_ALIAS, &out->st);
      break;
    case OP_ENCODE:
    case OP_ENCODE_DET: {
      cpay_encode_opts eo = {0};
      eo.flags = o == OP_ENCODE_DET ? CPAY_ENCODE_DETERMINISTIC : 0;
      out->code = cpay_encode(s->msg, t, a, &eo, &bytes, &out->st);
      break;
    }
    case OP_JSON_PARSE: {
      cpay_json_decode_opts jo = {0};
      jo.registry = g_reg;
      out->code = cpay_json_decode(s->json.data, s->json.size, target, k->j, a, &jo, &out->st);
      break;
    }
    case OP_JSON_PRINT: {
      cpay_json_encode_opts jo = {0};
      jo.registry = g_reg;
      jo.indent = 2;
      out->code = cpay_json_encode(s->json_msg, k->j, a, &jo, &str, &out->st);
      break;
    }
    case OP_TEXT_PARSE: {
      cpay_text_decode_opts to = {0};
      to.registry = g_reg;
      out->code = cpay_text_decode(s->text.data, s->text.size, target, k->j, a, &to, &out->st);
      break;
    }
    case OP_TEXT_PRINT: {
      cpay_text_encode_opts to = {0};
      to.registry = g_reg;
      to.flags = CPAY_TEXT_PRINT_UNKNOWN;
      out->code = cpay_text_encode(s->msg, k->j, a, &to, &str, &out->st);
      break;
    }
    case OP_TEXT_DEBUG: {
      const char *d = cpay_text_debug(s->msg, k->j, a);
      out->code = CPAY_OK;
      if (!d) {
        out->code = CPAY_ERR_INTERNAL;
        cpay_status_set(&out->st, CPAY_ERR_INTERNAL, "cpay_text_debug returned NULL");
      } else {
        out->debug_oom = strcmp(d, kDebugOom) == 0;
        str = cpay_str_from_c(d);
      }
      break;
    }
    case OP_COUNT:
      break;
  }
  if (c) counter_disarm(c);
  if (op_parses(o)) {
    // Success or not, the target must hold a message the encoder accepts.
    cpay_status est;
    cpay_status_clear(&est);
    cpay_code ec = encode_det(k, target, scratch, &bytes, &est);
    if (out->code == CPAY_OK && ec != CPAY_OK) {
      out->code = ec;
      out->st = est;
    } else if (out->code != CPAY_OK) {
      out->partial = ec;
      out->partial_st = est;
      // Every field parsed so far must print, too (in the counted sweeps
      // only: the byte-limit and buffer sweeps fail at the same points).
      if (c && !cpay_text_debug(target, k->j, scratch)) out->partial = CPAY_ERR_INTERNAL;
    }
    out->data = bytes.data;
    out->size = bytes.size;
    return;
  }
  if (out->code != CPAY_OK) return;
  // The output lives on `a`, which the caller frees before comparing.
  if (o != OP_ENCODE && o != OP_ENCODE_DET) {
    bytes = (cpay_bytes){(const uint8_t *)str.data, str.size};
  }
  uint8_t *copy = cpay_arena_malloc(scratch, bytes.size + 1);
  EXPECT(copy, "out of memory");
  if (bytes.size) memcpy(copy, bytes.data, bytes.size);
  out->data = copy;
  out->size = bytes.size;
}

// ---- the sweep ----------------------------------------------------------------------------

typedef enum mode { MODE_TINY, MODE_SMALL, MODE_ONCE, MODE_LIMIT, MODE_FIXED, MODE_COUNT } mode;

static const char *const mode_names[MODE_COUNT] = {"tiny", "small", "once", "limit", "fixed"};

// Where a check failed, for the assertion messages.
typedef struct where {
  const kind *k;
  op o;
  mode m;
  const sample *s;
  size_t n;  // N, the byte limit or the buffer size
} where;

#define WHERE_FMT "%s %s [%s] %s at %zu"
#define WHERE_ARGS(w) (w)->k->name, op_names[(w)->o], mode_names[(w)->m], (w)->s->name, (w)->n

// The reference result of `o` on `s`: the same operation with malloc and no
// limit, and the bytes of blocks its arena then held. False when the
// operation does not apply (e.g. a proto2 string that is not UTF-8 has no
// JSON form).
static bool reference(op o, const kind *k, const sample *s, cpay_arena *keep, cpay_bytes *ref,
                      size_t *space) {
  cpay_arena *a = cpay_arena_new();
  EXPECT(a, "out of memory");
  outcome out;
  run_op(o, k, s, a, NULL, 0, false, keep, &out);
  EXPECT(!out.setup_failed, "%s %s: setup failed without a limit", k->name, s->name);
  EXPECT(!out.debug_oom, "%s %s: debug print out of memory without a limit", k->name, s->name);
  *space = cpay_arena_space_allocated(a);
  cpay_arena_free(a);
  if (out.code != CPAY_OK) return false;
  *ref = (cpay_bytes){out.data, out.size};
  return true;
}

// Checks one outcome; `injected` tells whether the allocator made something
// fail (unknown under a byte limit or in a fixed buffer: -1).
static void check_outcome(const where *w, const outcome *out, int injected, cpay_bytes ref) {
  if (w->o == OP_TEXT_DEBUG) {
    EXPECT(out->code == CPAY_OK, WHERE_FMT ": %s", WHERE_ARGS(w), out->st.msg);
    if (out->debug_oom) {
      EXPECT(injected != 0, WHERE_FMT ": out of memory without a failure", WHERE_ARGS(w));
      return;
    }
  }
  if (out->code == CPAY_OK) {
    EXPECT(out->st.code == CPAY_OK, WHERE_FMT ": success with an error in the status: %s",
           WHERE_ARGS(w), out->st.msg);
    EXPECT(out->size == ref.size && (ref.size == 0 || memcmp(out->data, ref.data, ref.size) == 0),
           WHERE_FMT ": result differs from the unlimited run (%zu vs %zu bytes)", WHERE_ARGS(w),
           out->size, ref.size);
    EXPECT(injected <= 0 || w->m == MODE_ONCE,
           WHERE_FMT ": an allocation failed but the operation succeeded", WHERE_ARGS(w));
    return;
  }
  EXPECT(injected != 0, WHERE_FMT ": failed without an allocation failure: %s", WHERE_ARGS(w),
         out->st.msg);
  EXPECT(out->code == CPAY_ERR_NO_MEMORY, WHERE_FMT ": returned %s (%s), want %s", WHERE_ARGS(w),
         cpay_code_str(out->code), out->st.msg, cpay_code_str(CPAY_ERR_NO_MEMORY));
  EXPECT(out->st.code == out->code, WHERE_FMT ": status holds %s, the call returned %s",
         WHERE_ARGS(w), cpay_code_str(out->st.code), cpay_code_str(out->code));
  EXPECT(out->st.msg[0] != '\0', WHERE_FMT ": error without a message", WHERE_ARGS(w));
  if (op_parses(w->o)) {
    EXPECT(out->partial == CPAY_OK, WHERE_FMT ": the partly parsed message: %s (%s)", WHERE_ARGS(w),
           cpay_code_str(out->partial), out->partial_st.msg);
  }
}

static void check_no_leak(const where *w, const counter *c) {
  EXPECT(c->live_blocks == 0 && c->live_bytes == 0,
         WHERE_FMT ": %zu blocks (%zu bytes) still allocated after cpay_arena_free", WHERE_ARGS(w),
         c->live_blocks, c->live_bytes);
  EXPECT(c->misuse == 0, WHERE_FMT ": %zu bad calls of the block allocator", WHERE_ARGS(w),
         c->misuse);
}

// Far more allocations than any sample needs.
#define SWEEP_CAP ((size_t)1 << 20)

// --full: caller buffers of every size for every operation.
static bool g_full;

// The size of the caller buffer for step n of the fixed sweep. Requests
// are rounded up to 8 bytes and the buffer is 8-aligned, so sizes within
// one multiple of 8 behave alike, except for the binary encoder, which
// writes its output byte by byte into the rest of the arena's block: the
// encode operations (and every operation with --full) take every size; the
// rest take one size per multiple of 8, its remainder cycling through 0-7
// (an expanded Any in JSON or text is encoded by the parser).
static size_t fixed_size(op o, size_t n) {
  if (g_full || o == OP_ENCODE || o == OP_ENCODE_DET) return n;
  return 8 * n + n % 8;
}

// Sweeps `o` on `s` in mode `m`; returns the number of failure points.
// `space` is what the unlimited run's arena held: a byte limit or a buffer
// of four times that (plus the arena's own overhead) must be enough.
static size_t sweep(op o, const kind *k, const sample *s, mode m, cpay_bytes ref, size_t space) {
  where w = {k, o, m, s, 0};
  size_t points = 0;
  bool sticky = m != MODE_ONCE;
  size_t cap = SWEEP_CAP;
  if (m == MODE_LIMIT) cap = 4 * space + 4096;
  if (m == MODE_FIXED) cap = 4 * space + 4096;
  for (size_t n = 1;; n++) {
    // The failing allocation, byte limit or buffer size of this step.
    w.n = m == MODE_LIMIT ? 8 * n : m == MODE_FIXED ? fixed_size(o, n) : n;
    if (w.n > cap) break;
    cpay_arena *scratch = cpay_arena_new();
    EXPECT(scratch, "out of memory");
    counter c;
    counter_init(&c);
    cpay_arena_opts ao = {0};
    uint8_t *buf = NULL;
    size_t size = 0;
    if (m == MODE_FIXED) {
      // A canary behind the buffer catches writes past it without ASan.
      size = w.n;
      buf = malloc(size + 16);
      EXPECT(buf, "out of memory");
      memset(buf + size, 0x5A, 16);
      ao.initial_block = buf;
      ao.initial_size = size;
    } else {
      ao.alloc = &c.alloc;
      ao.block_size = m == MODE_SMALL || m == MODE_LIMIT ? 256 : 1;
      if (m == MODE_LIMIT) ao.max_bytes = w.n;
    }
    cpay_arena *a = cpay_arena_new_opts(&ao);
    bool done = false;
    if (a) {
      outcome out;
      bool counted = m != MODE_LIMIT && m != MODE_FIXED;
      run_op(o, k, s, a, counted ? &c : NULL, counted ? n : 0, sticky, scratch, &out);
      // Only a byte limit or a caller buffer can stop the setup.
      EXPECT(!out.setup_failed || !counted, WHERE_FMT ": setup failed", WHERE_ARGS(&w));
      if (!out.setup_failed) {
        int injected = counted ? (c.injected > 0) : -1;
        check_outcome(&w, &out, injected, ref);
        bool failed = out.code != CPAY_OK || out.debug_oom;
        if (counted) {
          done = c.injected == 0;
        } else {
          done = !failed;
        }
        if (failed || (counted && c.injected)) points++;
      }
      cpay_arena_free(a);
    } else {
      EXPECT(m == MODE_LIMIT || m == MODE_FIXED, WHERE_FMT ": no arena", WHERE_ARGS(&w));
    }
    check_no_leak(&w, &c);
    if (buf) {
      for (size_t i = 0; i < 16; i++) {
        EXPECT(buf[size + i] == 0x5A, WHERE_FMT ": written past the caller's buffer",
               WHERE_ARGS(&w));
      }
      free(buf);
    }
    cpay_arena_free(scratch);
    if (done) return points;
  }
  ck_abort_msg(WHERE_FMT ": never succeeded", WHERE_ARGS(&w));
  return points;
}

// One test per message and operation: every mode over every sample.
START_TEST(test_alloc_sweep) {
  const kind *k = &kinds[_i / OP_COUNT];
  op o = (op)(_i % OP_COUNT);
  size_t points[MODE_COUNT] = {0};
  size_t used = 0;
  clock_t start = clock();
  for (size_t i = 0; i < g_nsamples[_i / OP_COUNT]; i++) {
    const sample *s = &g_samples[_i / OP_COUNT][i];
    if (!op_applies(o, s)) continue;
    cpay_arena *keep = cpay_arena_new();
    EXPECT(keep, "out of memory");
    cpay_bytes ref;
    size_t space;
    if (reference(o, k, s, keep, &ref, &space)) {
      used++;
      for (int m = 0; m < MODE_COUNT; m++) points[m] += sweep(o, k, s, (mode)m, ref, space);
    }
    cpay_arena_free(keep);
  }
  EXPECT(used > 0, "%s %s: no sample applies", k->name, op_names[o]);
  size_t total = 0;
  for (int m = 0; m < MODE_COUNT; m++) total += points[m];
  printf(
      "# %-6s %-12s %2zu samples, failure points: tiny %6zu  small %5zu  once %6zu  "
      "limit %6zu  fixed %6zu  total %7zu  (%.2f s)\n",
      k->name, op_names[o], used, points[MODE_TINY], points[MODE_SMALL], points[MODE_ONCE],
      points[MODE_LIMIT], points[MODE_FIXED], total, (double)(clock() - start) / CLOCKS_PER_SEC);
  fflush(stdout);
}
END_TEST

// The first block itself: an arena whose allocator fails at once is NULL
// and holds nothing.
START_TEST(test_alloc_arena_new) {
  counter c;
  counter_init(&c);
  counter_arm(&c, 1, true);
  cpay_arena_opts ao = {0};
  ao.alloc = &c.alloc;
  ck_assert_ptr_null(cpay_arena_new_opts(&ao));
  ck_assert_uint_eq(c.injected, 1);
  ck_assert_uint_eq(c.live_blocks, 0);
}
END_TEST

// The registries the operations use: building them fails cleanly at every
// point too, and the finished registries work.
START_TEST(test_alloc_registries) {
  size_t points = 0;
  for (size_t n = 1; n < SWEEP_CAP; n++) {
    counter c;
    counter_init(&c);
    cpay_arena_opts ao = {0};
    ao.alloc = &c.alloc;
    ao.block_size = 1;
    cpay_arena *a = cpay_arena_new_opts(&ao);
    ck_assert_ptr_nonnull(a);
    counter_arm(&c, n, true);
    cpay_code code = CPAY_ERR_NO_MEMORY;
    cpay_registry *r = cpay_registry_new(a);
    cpay_extreg *x = cpay_extreg_new(a);
    if (r && x) {
      code = cpay_wkt_register_types(r);
      if (!code) code = test_messages_proto3_proto_register_types(r);
      if (!code) code = test_messages_proto2_proto_register_types(r);
      if (!code) code = test_messages_proto2_proto_register_extensions(x);
    }
    counter_disarm(&c);
    bool hit = c.injected > 0;
    if (hit) {
      ck_assert_msg(code == CPAY_ERR_NO_MEMORY, "registries at %zu: %s", n, cpay_code_str(code));
      points++;
    } else {
      ck_assert_msg(code == CPAY_OK, "registries at %zu: %s", n, cpay_code_str(code));
      const char *name = "protobuf_test_messages.proto2.TestAllTypesProto2";
      ck_assert_ptr_eq(cpay_registry_find(r, name, strlen(name)),
                       &protobuf_test_messages_proto2_TestAllTypesProto2_desc);
    }
    cpay_arena_free(a);
    ck_assert_msg(c.live_blocks == 0 && c.misuse == 0, "registries at %zu: leak or misuse", n);
    if (!hit) break;
  }
  printf("# registries: failure points %zu\n", points);
  fflush(stdout);
}
END_TEST

// ---- loading the samples --------------------------------------------------------------------

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *data = NULL;
  size_t size = 0, cap = 0;
  for (;;) {
    if (size == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *grown = realloc(data, cap);
      if (!grown) {
        free(data);
        fclose(f);
        return NULL;
      }
      data = grown;
    }
    size_t got = fread(data + size, 1, cap - size, f);
    if (got == 0) break;
    size += got;
  }
  bool err = ferror(f);
  fclose(f);
  if (err) {
    free(data);
    return NULL;
  }
  *len = size;
  return data;
}

typedef enum form { FORM_BIN, FORM_JSON, FORM_TEXT } form;

// Parses `data` in `f` as kind `ki` into a new sample; false when it does not
// parse (or is a duplicate of an earlier sample). Exits on setup errors.
static bool add_sample(size_t ki, const char *name, form f, const uint8_t *data, size_t len) {
  const kind *k = &kinds[ki];
  if (g_nsamples[ki] == MAX_SAMPLES) {
    fprintf(stderr, "alloc-fail: more than %d samples\n", MAX_SAMPLES);
    exit(EXIT_FAILURE);
  }
  // The input is kept on g_arena, NUL-terminated: the aliasing decoder
  // points into it.
  char *copy = cpay_arena_malloc(g_arena, len + 1);
  void *msg = cpay_msg_new(k->j->table, g_arena);
  if (!copy || !msg) {
    fprintf(stderr, "alloc-fail: out of memory\n");
    exit(EXIT_FAILURE);
  }
  if (len) memcpy(copy, data, len);
  copy[len] = '\0';
  cpay_status st;
  cpay_status_clear(&st);
  cpay_code c;
  if (f == FORM_BIN) {
    cpay_decode_opts o = {0};
    o.extreg = g_ext;
    c = cpay_decode((const uint8_t *)copy, len, msg, k->j->table, g_arena, &o, &st);
  } else if (f == FORM_JSON) {
    cpay_json_decode_opts o = {0};
    o.registry = g_reg;
    c = cpay_json_decode(copy, len, msg, k->j, g_arena, &o, &st);
  } else {
    cpay_text_decode_opts o = {0};
    o.registry = g_reg;
    c = cpay_text_decode(copy, len, msg, k->j, g_arena, &o, &st);
  }
  if (c != CPAY_OK) return false;
  sample *s = &g_samples[ki][g_nsamples[ki]];
  memset(s, 0, sizeof(*s));
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->msg = msg;
  s->json_msg = msg;
  if (f == FORM_BIN) {
    s->bin = (cpay_bytes){(const uint8_t *)copy, len};
    s->has_bin = true;
  } else if (f == FORM_JSON) {
    s->json = (cpay_str){copy, len};
    s->has_json = true;
  } else {
    s->text = (cpay_str){copy, len};
    s->has_text = true;
  }
  // The other forms, where the message has them.
  if (!s->has_bin) {
    s->has_bin = cpay_encode(msg, k->j->table, g_arena, NULL, &s->bin, &st) == CPAY_OK;
  }
  if (!s->has_json) {
    cpay_json_encode_opts o = {0};
    o.registry = g_reg;
    s->has_json = cpay_json_encode(msg, k->j, g_arena, &o, &s->json, &st) == CPAY_OK;
    if (!s->has_json && k->j == &protobuf_test_messages_proto3_TestAllTypesProto3_desc) {
      // The interop message's repeated_any holds a type_url ("u") the
      // registry cannot resolve, so it has no JSON form: the JSON operations
      // take a shallow copy without repeated_any.
      protobuf_test_messages_proto3_TestAllTypesProto3 *printable =
          cpay_arena_malloc(g_arena, sizeof(*printable));
      if (!printable) {
        fprintf(stderr, "alloc-fail: out of memory\n");
        exit(EXIT_FAILURE);
      }
      memcpy(printable, msg, sizeof(*printable));
      protobuf_test_messages_proto3_TestAllTypesProto3_clear_repeated_any(printable);
      cpay_status_clear(&st);
      s->has_json = cpay_json_encode(printable, k->j, g_arena, &o, &s->json, &st) == CPAY_OK;
      if (s->has_json) s->json_msg = printable;
    }
  }
  if (!s->has_text) {
    cpay_text_encode_opts o = {0};
    o.registry = g_reg;
    s->has_text = cpay_text_encode(msg, k->j, g_arena, &o, &s->text, &st) == CPAY_OK;
  }
  // The same input twice (the corpus repeats the interop messages) adds nothing.
  for (size_t i = 0; i < g_nsamples[ki]; i++) {
    const sample *o = &g_samples[ki][i];
    if (o->has_bin == s->has_bin && o->has_json == s->has_json && o->has_text == s->has_text &&
        o->bin.size == s->bin.size && o->json.size == s->json.size &&
        o->text.size == s->text.size &&
        (!s->bin.size || !memcmp(o->bin.data, s->bin.data, s->bin.size)) &&
        cpay_str_eq(o->json, s->json) && cpay_str_eq(o->text, s->text)) {
      return false;
    }
  }
  g_nsamples[ki]++;
  return true;
}

static void add_file(size_t ki, const char *dir, const char *file, const char *label, form f) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  if (!data) {
    fprintf(stderr, "alloc-fail: cannot read %s\n", path);
    exit(EXIT_FAILURE);
  }
  char name[96];
  snprintf(name, sizeof(name), "%s/%s", label, file);
  add_sample(ki, name, f, data, len);
  free(data);
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }

// Every file of corpus/<sub>, in name order.
static void add_corpus(size_t ki, const char *corpus, const char *sub, form f) {
  char dir[4096], label[64];
  snprintf(dir, sizeof(dir), "%s/%s", corpus, sub);
  snprintf(label, sizeof(label), "corpus/%s", sub);
  struct dirent **list;
  int n = scandir(dir, &list, not_hidden, by_name);
  if (n < 0) {
    fprintf(stderr, "alloc-fail: cannot list %s\n", dir);
    exit(EXIT_FAILURE);
  }
  for (int i = 0; i < n; i++) {
    add_file(ki, dir, list[i]->d_name, label, f);
    free(list[i]);
  }
  free(list);
}

static void load(const char *interop, const char *corpus) {
  g_arena = cpay_arena_new();
  g_reg = g_arena ? cpay_registry_new(g_arena) : NULL;
  g_ext = g_arena ? cpay_extreg_new(g_arena) : NULL;
  if (!g_reg || !g_ext || cpay_wkt_register_types(g_reg) != CPAY_OK ||
      test_messages_proto3_proto_register_types(g_reg) != CPAY_OK ||
      test_messages_proto2_proto_register_types(g_reg) != CPAY_OK ||
      test_messages_proto2_proto_register_extensions(g_ext) != CPAY_OK) {
    fprintf(stderr, "alloc-fail: cannot build the registries\n");
    exit(EXIT_FAILURE);
  }
  add_file(0, interop, "proto3_all.txtpb", "interop", FORM_TEXT);
  add_file(1, interop, "proto2_all.txtpb", "interop", FORM_TEXT);
  for (size_t ki = 0; ki < KIND_COUNT; ki++) {
    if (g_nsamples[ki] != 1) {
      fprintf(stderr, "alloc-fail: the interop message for %s does not parse\n", kinds[ki].name);
      exit(EXIT_FAILURE);
    }
    add_corpus(ki, corpus, "decode", FORM_BIN);
    add_corpus(ki, corpus, "json", FORM_JSON);
    add_corpus(ki, corpus, "text", FORM_TEXT);
  }
}

static Suite *alloc_suite(void) {
  Suite *s = suite_create("alloc");
  TCase *tc = tcase_create("alloc");
  // A sweep runs an operation thousands of times; sanitizer builds are slow.
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_alloc_arena_new);
  tcase_add_test(tc, test_alloc_registries);
  tcase_add_loop_test(tc, test_alloc_sweep, 0, KIND_COUNT * OP_COUNT);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) {
  int i = 1;
  if (argc > 1 && strcmp(argv[1], "--full") == 0) {
    g_full = true;
    i++;
  }
  if (argc - i != 2) {
    fprintf(stderr, "usage: alloc-fail [--full] INTEROP_DATA_DIR FUZZ_CORPUS_DIR\n");
    return EXIT_FAILURE;
  }
  load(argv[i], argv[i + 1]);
  for (size_t ki = 0; ki < KIND_COUNT; ki++) {
    printf("# %s: %zu samples\n", kinds[ki].name, g_nsamples[ki]);
  }
  fflush(stdout);
  SRunner *sr = srunner_create(alloc_suite());
  srunner_set_tap(sr, "-");
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  cpay_arena_free(g_arena);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
