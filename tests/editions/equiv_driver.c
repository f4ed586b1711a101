// The editions equivalence test's driver (run by editions_test.py): code
// generated from the proto2/proto3 originals (test_messages_proto2.proto,
// test_messages_proto3.proto, payments.proto) and from their edition 2023
// renderings (packages protobuf_test_messages.editions.* and
// payments.editions.v1) must behave identically on every input.
//
//   equiv-driver CORPUS    (records written by gen_corpus.py)
//
// Each input goes through the same steps with both codes: binary decoding
// (strict, then allowing missing required fields), JSON or text parsing,
// then re-encoding (default, deterministic, without unknown fields), JSON
// (three option sets) and text (three) printing, re-parsing each printed
// JSON and text and encoding that, and the one-line debug text. Each step's
// result code, error message and output must be identical, after renaming
// the editions packages to the originals' in the editions side's text
// (JSON "@type", text "[extension]" names, error messages). EQUIV_VERBOSE=1
// also prints how each input parsed. The first
// difference of an input is printed with the input in hex; the exit status
// is 1 when there is any.
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpay/wkt.h"
#include "editions/golden/test_messages_proto2_editions.cpay.h"
#include "editions/golden/test_messages_proto3_editions.cpay.h"
#include "google/protobuf/test_messages_proto2.cpay.h"
#include "google/protobuf/test_messages_proto3.cpay.h"
#include "payments.cpay.h"
#include "payments_editions.cpay.h"

typedef struct pair {
  const char *name;  // the original's full name, as in the corpus
  const cpay_msg_desc *orig, *ed;
} pair;

#define TM2(m) \
  {"protobuf_test_messages.proto2." #m, &protobuf_test_messages_proto2_##m##_desc, \
   &protobuf_test_messages_editions_proto2_##m##_desc}
#define TM3(m) \
  {"protobuf_test_messages.proto3." #m, &protobuf_test_messages_proto3_##m##_desc, \
   &protobuf_test_messages_editions_proto3_##m##_desc}
#define PAY(m) {"payments.v1." #m, &payments_v1_##m##_desc, &payments_editions_v1_##m##_desc}

static const pair pairs[] = {
    TM2(TestAllTypesProto2), TM2(TestAllRequiredTypesProto2), TM2(UnknownToTestAllTypes),
    TM3(TestAllTypesProto3), PAY(ChargeRequest),           PAY(ChargeResponse),
    PAY(Transaction),        PAY(TransactionStreamRequest), PAY(BatchChargeResponse),
    PAY(PaymentMessage),
};
#define NPAIRS (sizeof pairs / sizeof pairs[0])

// The editions packages and the originals'. Outputs of the editions code
// are renamed everywhere; inputs (the originals' names) only in extension
// names ("[protobuf_test_messages.proto2.extension_int32]" in text and JSON
// keys): a type URL in an Any is data, and the registry both codes use
// holds both files' types.
static const char *const renames[][2] = {
    {"protobuf_test_messages.editions.", "protobuf_test_messages."},
    {"payments.editions.v1.", "payments.v1."},
};
static const char *const input_renames[][2] = {
    {"[protobuf_test_messages.editions.", "[protobuf_test_messages."},
    {"[payments.editions.v1.", "[payments.v1."},
};

// Copies `s` (`n` bytes) onto `a` with every occurrence of table[][from]
// replaced by table[][to].
static cpay_str rename_in(const char *const (*table)[2], cpay_arena *a, const char *s, size_t n,
                          int from, int to) {
  size_t cap = n * 2 + 1, len = 0;
  char *out = cpay_arena_malloc(a, cap);
  if (!out) {
    fprintf(stderr, "equiv-driver: out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n;) {
    bool done = false;
    for (size_t r = 0; r < 2 && !done; r++) {
      size_t fl = strlen(table[r][from]);
      if (n - i >= fl && memcmp(s + i, table[r][from], fl) == 0) {
        size_t tl = strlen(table[r][to]);
        memcpy(out + len, table[r][to], tl);
        len += tl;
        i += fl;
        done = true;
      }
    }
    if (!done) out[len++] = s[i++];
  }
  out[len] = '\0';
  return (cpay_str){out, len};
}

static cpay_str rename_pkgs(cpay_arena *a, const char *s, size_t n, int from, int to) {
  return rename_in(renames, a, s, n, from, to);
}

// One step's result.
typedef struct entry {
  const char *step;
  cpay_code rc;
  char msg[CPAY_STATUS_MSG_SIZE];
  const char *out;  // output (NULL: none), renamed to the originals' names
  size_t out_size;
} entry;

#define MAX_ENTRIES 40

typedef struct side {
  bool ed;
  cpay_arena *a;
  const cpay_registry *reg;
  const cpay_extreg *ext;
  entry e[MAX_ENTRIES];
  int n;
} side;

static entry *add(side *s, const char *step, cpay_code rc, const cpay_status *st) {
  if (s->n == MAX_ENTRIES) {
    fprintf(stderr, "equiv-driver: too many steps\n");
    exit(2);
  }
  entry *e = &s->e[s->n++];
  e->step = step;
  e->rc = rc;
  e->msg[0] = '\0';
  e->out = NULL;
  e->out_size = 0;
  if (rc != CPAY_OK && st) {
    cpay_str m = s->ed ? rename_pkgs(s->a, st->msg, strlen(st->msg), 0, 1)
                       : (cpay_str){st->msg, strlen(st->msg)};
    snprintf(e->msg, sizeof e->msg, "%.*s", (int)m.size, m.data);
  }
  return e;
}

static void add_bytes(side *s, const char *step, cpay_code rc, const cpay_status *st,
                      cpay_bytes b) {
  entry *e = add(s, step, rc, st);
  if (rc == CPAY_OK) {
    e->out = (const char *)b.data;
    e->out_size = b.size;
  }
}

static void add_text(side *s, const char *step, cpay_code rc, const cpay_status *st,
                     cpay_str t) {
  entry *e = add(s, step, rc, st);
  if (rc == CPAY_OK) {
    cpay_str m = s->ed ? rename_pkgs(s->a, t.data, t.size, 0, 1) : t;
    e->out = m.data;
    e->out_size = m.size;
  }
}

// Encodes `msg` deterministically, allowing missing required fields: the
// canonical bytes of what a parser built.
static void add_canonical(side *s, const char *step, const void *msg, const cpay_msg_desc *d) {
  cpay_status st;
  cpay_status_clear(&st);
  cpay_encode_opts o = {0};
  o.flags = CPAY_ENCODE_DETERMINISTIC | CPAY_ENCODE_ALLOW_PARTIAL;
  cpay_bytes b = {0};
  cpay_code rc = cpay_encode(msg, d->table, s->a, &o, &b, &st);
  add_bytes(s, step, rc, &st, b);
}

static void outputs(side *s, const void *msg, const cpay_msg_desc *d) {
  static const struct {
    const char *step;
    uint32_t flags;
  } encodings[] = {
      {"encode", 0},
      {"encode-deterministic", CPAY_ENCODE_DETERMINISTIC},
      {"encode-partial-skip-unknown",
       CPAY_ENCODE_ALLOW_PARTIAL | CPAY_ENCODE_SKIP_UNKNOWN | CPAY_ENCODE_DETERMINISTIC},
  };
  for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++) {
    cpay_status st;
    cpay_status_clear(&st);
    cpay_encode_opts o = {0};
    o.flags = encodings[i].flags;
    cpay_bytes b = {0};
    cpay_code rc = cpay_encode(msg, d->table, s->a, &o, &b, &st);
    add_bytes(s, encodings[i].step, rc, &st, b);
  }
  add(s, cpay_msg_is_initialized(msg, d->table) ? "initialized" : "not-initialized", CPAY_OK,
      NULL);

  static const struct {
    const char *step, *reparse;
    uint32_t flags;
    int indent;
  } jsons[] = {
      {"json", "json-reparse", 0, 0},
      {"json-defaults-proto-names", "json-defaults-proto-names-reparse",
       CPAY_JSON_EMIT_DEFAULTS | CPAY_JSON_PROTO_NAMES, 0},
      {"json-enum-ints-indent", "json-enum-ints-indent-reparse", CPAY_JSON_ENUMS_AS_INTS, 2},
  };
  for (size_t i = 0; i < sizeof jsons / sizeof jsons[0]; i++) {
    cpay_status st;
    cpay_status_clear(&st);
    cpay_json_encode_opts o = {0};
    o.flags = jsons[i].flags;
    o.indent = jsons[i].indent;
    o.registry = s->reg;
    cpay_str j = {0};
    cpay_code rc = cpay_json_encode(msg, d, s->a, &o, &j, &st);
    add_text(s, jsons[i].step, rc, &st, j);
    if (rc != CPAY_OK) continue;
    // Parsed back by the same code (its own names).
    void *again = cpay_msg_new(d->table, s->a);
    cpay_json_decode_opts po = {0};
    po.registry = s->reg;
    cpay_status_clear(&st);
    rc = cpay_json_decode(j.data, j.size, again, d, s->a, &po, &st);
    add(s, jsons[i].reparse, rc, &st);
    if (rc == CPAY_OK) add_canonical(s, jsons[i].reparse, again, d);
  }

  static const struct {
    const char *step;
    uint32_t flags;
  } texts[] = {
      {"text", 0},
      {"text-print-unknown", CPAY_TEXT_PRINT_UNKNOWN},
      {"text-single-line", CPAY_TEXT_SINGLE_LINE},
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    cpay_status st;
    cpay_status_clear(&st);
    cpay_text_encode_opts o = {0};
    o.flags = texts[i].flags;
    o.registry = s->reg;
    cpay_str t = {0};
    cpay_code rc = cpay_text_encode(msg, d, s->a, &o, &t, &st);
    add_text(s, texts[i].step, rc, &st, t);
    if (rc != CPAY_OK || i != 0) continue;
    void *again = cpay_msg_new(d->table, s->a);
    cpay_text_decode_opts po = {0};
    po.registry = s->reg;
    cpay_status_clear(&st);
    rc = cpay_text_decode(t.data, t.size, again, d, s->a, &po, &st);
    add(s, "text-reparse", rc, &st);
    if (rc == CPAY_OK) add_canonical(s, "text-reparse", again, d);
  }
  const char *dbg = cpay_text_debug(msg, d, s->a);
  add_text(s, "debug-text", CPAY_OK, NULL, (cpay_str){dbg, strlen(dbg)});
}

// Runs every step on `s`; true when the input parsed.
static bool run(side *s, const pair *p, char kind, const uint8_t *data, size_t size) {
  const cpay_msg_desc *d = s->ed ? p->ed : p->orig;
  cpay_status st;
  cpay_status_clear(&st);
  void *msg = cpay_msg_new(d->table, s->a);
  if (!msg) {
    fprintf(stderr, "equiv-driver: out of memory\n");
    exit(2);
  }
  if (kind == 'b') {
    cpay_decode_opts o = {0};
    o.extreg = s->ext;
    cpay_code rc = cpay_decode(data, size, msg, d->table, s->a, &o, &st);
    add(s, "decode", rc, &st);
    // Again without the required-field check: what follows uses this one.
    msg = cpay_msg_new(d->table, s->a);
    o.flags = CPAY_DECODE_ALLOW_PARTIAL;
    cpay_status_clear(&st);
    rc = cpay_decode(data, size, msg, d->table, s->a, &o, &st);
    add(s, "decode-partial", rc, &st);
    if (rc != CPAY_OK) return false;
  } else {
    // Names in the input are the originals': the editions side reads them
    // renamed to its packages.
    cpay_str in = s->ed ? rename_in(input_renames, s->a, (const char *)data, size, 1, 0)
                        : (cpay_str){(const char *)data, size};
    cpay_code rc;
    if (kind == 'j') {
      cpay_json_decode_opts o = {0};
      o.registry = s->reg;
      rc = cpay_json_decode(in.data, in.size, msg, d, s->a, &o, &st);
      add(s, "json-parse", rc, &st);
      if (rc != CPAY_OK) {
        msg = cpay_msg_new(d->table, s->a);
        o.flags = CPAY_JSON_IGNORE_UNKNOWN;
        cpay_status_clear(&st);
        rc = cpay_json_decode(in.data, in.size, msg, d, s->a, &o, &st);
        add(s, "json-parse-ignore-unknown", rc, &st);
      }
    } else {
      cpay_text_decode_opts o = {0};
      o.registry = s->reg;
      rc = cpay_text_decode(in.data, in.size, msg, d, s->a, &o, &st);
      add(s, "text-parse", rc, &st);
    }
    if (rc != CPAY_OK) return false;
  }
  outputs(s, msg, d);
  return true;
}

static void print_hex(FILE *f, const uint8_t *data, size_t size) {
  for (size_t i = 0; i < size; i++) fprintf(f, "%02x", data[i]);
}

static void print_out(const char *label, const entry *e) {
  printf("    %s: %s", label, cpay_code_str(e->rc));
  if (e->msg[0]) printf(" \"%s\"", e->msg);
  if (e->out) {
    printf(" %zu bytes: ", e->out_size);
    size_t n = e->out_size < 300 ? e->out_size : 300;
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)e->out[i];
      if (c >= 0x20 && c < 0x7f) {
        putchar(c);
      } else {
        printf("\\x%02x", c);
      }
    }
    if (n < e->out_size) printf("...");
  }
  putchar('\n');
}

static bool read_exact(FILE *f, void *buf, size_t n) { return fread(buf, 1, n, f) == n; }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: equiv-driver CORPUS\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  cpay_arena *ra = cpay_arena_new();
  cpay_registry *reg0 = ra ? cpay_registry_new(ra) : NULL;
  cpay_registry *reg[2] = {reg0, reg0};
  cpay_extreg *ext[2] = {ra ? cpay_extreg_new(ra) : NULL, ra ? cpay_extreg_new(ra) : NULL};
  if (!reg0 || !ext[0] || !ext[1] || cpay_wkt_register_types(reg[0]) != CPAY_OK ||
      google_protobuf_test_messages_proto2_proto_register_types(reg[0]) != CPAY_OK ||
      google_protobuf_test_messages_proto3_proto_register_types(reg[0]) != CPAY_OK ||
      payments_proto_register_types(reg[0]) != CPAY_OK ||
      google_protobuf_test_messages_proto2_proto_register_extensions(ext[0]) != CPAY_OK ||
      editions_golden_test_messages_proto2_editions_proto_register_types(reg[1]) != CPAY_OK ||
      editions_golden_test_messages_proto3_editions_proto_register_types(reg[1]) != CPAY_OK ||
      payments_editions_proto_register_types(reg[1]) != CPAY_OK ||
      editions_golden_test_messages_proto2_editions_proto_register_extensions(ext[1]) !=
          CPAY_OK) {
    fprintf(stderr, "equiv-driver: cannot register the types\n");
    return 2;
  }

  unsigned long inputs[NPAIRS][3] = {{0}}, parsed[NPAIRS][3] = {{0}}, differ[NPAIRS] = {0};
  unsigned long steps = 0;
  unsigned long bad_inputs = 0, printed = 0;
  unsigned long index = 0;
  // EQUIV_VERBOSE=1: each input's first step (how it parsed).
  const char *v = getenv("EQUIV_VERBOSE");
  bool verbose = v && *v == '1';
  for (;; index++) {
    char kind;
    uint8_t hdr[2], lenb[4];
    if (fread(&kind, 1, 1, f) != 1) break;
    char name[256];
    if (!read_exact(f, hdr, 2)) goto corrupt;
    size_t nl = (size_t)hdr[0] | (size_t)hdr[1] << 8;
    if (nl >= sizeof name || !read_exact(f, name, nl) || !read_exact(f, lenb, 4)) goto corrupt;
    name[nl] = '\0';
    size_t size = (size_t)lenb[0] | (size_t)lenb[1] << 8 | (size_t)lenb[2] << 16 |
                  (size_t)lenb[3] << 24;
    uint8_t *data = malloc(size ? size : 1);
    if (!data || !read_exact(f, data, size)) goto corrupt;
    size_t pi = 0;
    while (pi < NPAIRS && strcmp(pairs[pi].name, name) != 0) pi++;
    int ki = kind == 'b' ? 0 : kind == 'j' ? 1 : kind == 't' ? 2 : -1;
    if (pi == NPAIRS || ki < 0) {
      fprintf(stderr, "equiv-driver: record %lu: unknown type %s or kind %c\n", index, name,
              kind);
      return 2;
    }
    side s[2];
    bool ok[2];
    for (int i = 0; i < 2; i++) {
      s[i].ed = i == 1;
      s[i].a = cpay_arena_new();
      s[i].reg = reg[i];
      s[i].ext = ext[i];
      s[i].n = 0;
      if (!s[i].a) {
        fprintf(stderr, "equiv-driver: out of memory\n");
        return 2;
      }
      ok[i] = run(&s[i], &pairs[pi], kind, data, size);
    }
    inputs[pi][ki]++;
    int n = s[0].n > s[1].n ? s[0].n : s[1].n;
    int bad = -1;
    for (int i = 0; i < n && bad < 0; i++) {
      if (i >= s[0].n || i >= s[1].n) {
        bad = i;
        break;
      }
      const entry *o = &s[0].e[i], *e = &s[1].e[i];
      if (strcmp(o->step, e->step) != 0 || o->rc != e->rc || strcmp(o->msg, e->msg) != 0 ||
          (o->out == NULL) != (e->out == NULL) || o->out_size != e->out_size ||
          (o->out && o->out_size && memcmp(o->out, e->out, o->out_size) != 0)) {
        bad = i;
      }
    }
    steps += (unsigned long)s[0].n;
    if (verbose) {
      printf("input %lu %s %c: %s %s\n", index, name, kind, cpay_code_str(s[0].e[0].rc),
             s[0].e[0].msg);
    }
    if (ok[0] && ok[1]) parsed[pi][ki]++;
    if (bad >= 0) {
      bad_inputs++;
      differ[pi]++;
      if (printed++ < 40) {
        printf("MISMATCH input %lu (%s, %s) at step %d (%s / %s)\n", index, name,
               kind == 'b' ? "binary" : kind == 'j' ? "JSON" : "text", bad,
               bad < s[0].n ? s[0].e[bad].step : "(none)",
               bad < s[1].n ? s[1].e[bad].step : "(none)");
        if (bad < s[0].n) print_out("proto2/3", &s[0].e[bad]);
        if (bad < s[1].n) print_out("editions", &s[1].e[bad]);
        printf("    input hex: ");
        print_hex(stdout, data, size);
        putchar('\n');
      }
    }
    for (int i = 0; i < 2; i++) cpay_arena_free(s[i].a);
    free(data);
  }
  fclose(f);
  unsigned long total = 0;
  printf("%-52s %6s %5s %5s %16s %7s\n", "inputs: message", "binary", "JSON", "text",
         "(parsed b/j/t)", "differ");
  for (size_t i = 0; i < NPAIRS; i++) {
    char p[40];
    snprintf(p, sizeof p, "(%lu/%lu/%lu)", parsed[i][0], parsed[i][1], parsed[i][2]);
    printf("%-52s %6lu %5lu %5lu %16s %7lu\n", pairs[i].name, inputs[i][0], inputs[i][1],
           inputs[i][2], p, differ[i]);
    total += inputs[i][0] + inputs[i][1] + inputs[i][2];
  }
  unsigned long kin[3] = {0}, kparsed[3] = {0};
  for (size_t i = 0; i < NPAIRS; i++) {
    for (int k = 0; k < 3; k++) {
      kin[k] += inputs[i][k];
      kparsed[k] += parsed[i][k];
    }
  }
  printf("equiv-driver: binary %lu (%lu parsed), JSON %lu (%lu), text %lu (%lu)\n", kin[0],
         kparsed[0], kin[1], kparsed[1], kin[2], kparsed[2]);
  printf("equiv-driver: %lu inputs, %lu steps compared, %lu inputs differ\n", total, steps,
         bad_inputs);
  cpay_arena_free(ra);
  return bad_inputs ? 1 : 0;
corrupt:
  fprintf(stderr, "equiv-driver: record %lu: corrupt corpus\n", index);
  return 2;
}
