// The lock file's integrity and its strict parser (docs/breaking.md, "The
// lock file"): every golden lock parses, every proper prefix of it, every
// lock with one content line deleted and every lock with one byte of a
// content line changed is refused with "PATH:LINE: why"; and malformed
// entries are refused with the line they are on.
#define _POSIX_C_SOURCE 200809L

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaking/breaking.h"

Suite *lock_suite(void);

// The golden locks: CPAY_LOCKS_DIR/*.lock, each read whole, in a pool that
// lives as long as the program (the tests may share one process).
typedef struct golden {
  const char *name;
  char *text;
  size_t size;
} golden;

static golden g_locks[32];
static size_t g_count;
static cps_pool *g_locks_mem;

static void load_locks(void) {
  if (g_count) return;
  if (g_locks_mem == NULL) g_locks_mem = cps_pool_new();
  const char *dir = getenv("CPAY_LOCKS_DIR");
  ck_assert_msg(dir != NULL, "CPAY_LOCKS_DIR is not set");
  DIR *d = opendir(dir);
  ck_assert_msg(d != NULL, "cannot open %s", dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL && g_count < 32) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".lock") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    golden *g = &g_locks[g_count++];
    g->name = cps_pool_strdup(g_locks_mem, e->d_name);
    g->text = cps_pool_alloc(g_locks_mem, (size_t)size + 1);  // zeroed: NUL-terminated
    ck_assert_uint_eq(fread(g->text, 1, (size_t)size, f), (size_t)size);
    g->size = (size_t)size;
    fclose(f);
  }
  closedir(d);
  ck_assert_msg(g_count >= 5, "found %zu golden locks in %s", g_count, dir);
}

// Parses `text`; returns whether it was accepted. A refusal must say where.
static bool accepted(const char *text, size_t size, const char *what) {
  cps_pool *mem = cps_pool_new();
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse(mem, text, size, "t.lock", &err);
  if (!s) {
    ck_assert_msg(err != NULL && strncmp(err, "t.lock:", 7) == 0 && err[7] >= '1' && err[7] <= '9',
                  "%s: an error without a line: %s", what, err ? err : "(none)");
  }
  cps_pool_free(mem);
  return s != NULL;
}

// Whether line [start, end) of a lock is content (not blank, not a comment).
static bool content_line(const char *start, const char *end) {
  if (start == end || *start == '#') return false;
  for (const char *p = start; p < end; p++) {
    if (*p != ' ') return true;
  }
  return false;
}

START_TEST(test_lock_golden_locks_parse_and_format_back) {
  load_locks();
  for (size_t i = 0; i < g_count; i++) {
    cps_pool *mem = cps_pool_new();
    char *err = NULL;
    cpb_snap *s = cpb_lock_parse(mem, g_locks[i].text, g_locks[i].size, "t.lock", &err);
    ck_assert_msg(s != NULL, "%s: %s", g_locks[i].name, err ? err : "");
    // editions.lock (an edition 2023 schema) needs version 3; the others
    // are proto2/proto3 and stay in version 2.
    ck_assert_int_eq(s->version, strcmp(g_locks[i].name, "editions.lock") == 0 ? 3 : 2);
    ck_assert_msg(strcmp(cpb_lock_format(mem, s), g_locks[i].text) == 0,
                  "%s does not format back to itself", g_locks[i].name);
    cps_pool_free(mem);
  }
}
END_TEST

START_TEST(test_lock_every_prefix_refused) {
  load_locks();
  size_t prefixes = 0;
  for (size_t i = 0; i < g_count; i++) {
    for (size_t n = 0; n < g_locks[i].size; n++, prefixes++) {
      char what[128];
      snprintf(what, sizeof what, "%s cut to %zu bytes", g_locks[i].name, n);
      ck_assert_msg(!accepted(g_locks[i].text, n, what), "%s was accepted", what);
    }
  }
  ck_assert_uint_gt(prefixes, 5000);
}
END_TEST

START_TEST(test_lock_every_content_line_deleted_refused) {
  load_locks();
  cps_buf cut = {0};
  for (size_t i = 0; i < g_count; i++) {
    const char *t = g_locks[i].text, *end = t + g_locks[i].size;
    int line = 0;
    for (const char *p = t; p < end; line++) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      const char *next = nl ? nl + 1 : end;
      if (content_line(p, nl ? nl : end)) {
        cut.size = 0;
        cps_buf_append(&cut, t, (size_t)(p - t));
        cps_buf_append(&cut, next, (size_t)(end - next));
        char what[128];
        snprintf(what, sizeof what, "%s without line %d", g_locks[i].name, line + 1);
        ck_assert_msg(!accepted(cut.data, cut.size, what), "%s was accepted", what);
      }
      p = next;
    }
  }
  cps_buf_free(&cut);
}
END_TEST

START_TEST(test_lock_every_byte_changed_refused) {
  load_locks();
  for (size_t i = 0; i < g_count; i++) {
    char *t = g_locks[i].text;
    const char *line = t;
    for (size_t k = 0; k < g_locks[i].size; k++) {
      if (k == 0 || t[k - 1] == '\n') line = t + k;
      const char *nl = memchr(line, '\n', g_locks[i].size - (size_t)(line - t));
      if (!content_line(line, nl ? nl : t + g_locks[i].size)) continue;
      t[k] ^= 1;
      char what[128];
      snprintf(what, sizeof what, "%s with byte %zu changed", g_locks[i].name, k);
      ck_assert_msg(!accepted(t, g_locks[i].size, what), "%s was accepted", what);
      t[k] ^= 1;
    }
  }
}
END_TEST

// The pool of the test's locks and errors.
static cps_pool *g_mem;

static void setup(void) { g_mem = cps_pool_new(); }

static void teardown(void) { cps_pool_free(g_mem); }

// The error for a lock of these lines, or NULL: the grammar, not the hashes,
// decides (they are not compared).
static char *err_of(const char *text) {
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse_opts(g_mem, text, strlen(text), "t.lock", false, &err);
  return s ? NULL : err;
}

static void refused(const char *text, const char *want) {
  char *err = err_of(text);
  ck_assert_msg(err != NULL, "accepted: %s", text);
  ck_assert_msg(strstr(err, want) != NULL, "wanted \"%s\", got \"%s\"", want, err);
}

#define HEAD "cpay-lock 1\nfile a.proto\n  syntax proto3\n"

START_TEST(test_lock_strict_entries) {
  ck_assert_ptr_null(err_of(HEAD "message p.M\n  field 1 a int32 implicit json=a\n"));
  refused(HEAD "message p.M\n  field -1 a int32 implicit json=a\n", "t.lock:5: bad field number \"-1\"");
  refused(HEAD "message p.M\n  field 0 a int32 implicit json=a\n", "t.lock:5: bad field number");
  refused(HEAD "message p.M\n  field 536870912 a int32 implicit json=a\n", "bad field number");
  refused(HEAD "message p.M\n  field 01 a int32 implicit json=a\n", "bad field number");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a%2\n", "t.lock:5: bad escape \"%2\"");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a%zz\n", "bad escape");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a\n  field 1 b int32 implicit json=b\n",
          "t.lock:6: a second live entry for this number (the first is at line 5)");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a\n  field 2 a int32 implicit json=a\n",
          "t.lock:6: a second live entry for this name");
  ck_assert_ptr_null(err_of(HEAD "message p.M\n  field 1 a string implicit json=a deleted\n"
                                 "  field 1 a int32 implicit json=a\n"));
  refused(HEAD "message p.M\n  field 1 a string implicit json=a deleted\n"
               "  field 1 a string implicit json=a deleted\n",
          "t.lock:6: the same deleted entry twice");
  refused(HEAD "message p.M\nmessage p.M\n", "t.lock:5: a second `message p.M` block (the first is at line 4)");
  refused(HEAD "message p.M\n  file a.proto\n  file b.proto\n", "t.lock:6: a second `file` line");
  refused(HEAD "message p.M\n  closed\n", "`closed` does not belong in a message block");
  refused(HEAD "message p.M\n  field 1 a int32 implicit\n", "field line without json=");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a json=b\n", "\"json=\" given twice");
  refused(HEAD "message p.M\n  field 1 a int32 implicit json=a idempotency=idempotent\n",
          "unexpected \"idempotency=idempotent\"");
  refused(HEAD "message p.M\n  field 1 a int33 implicit json=a\n", "bad field type \"int33\"");
  refused(HEAD "message p.M\n  field 1 a map<float,int32> repeated json=a\n", "bad field type");
  refused(HEAD "message p.M\n  field 1 a int32 unary json=a\n", "bad label \"unary\"");
  refused(HEAD "message p.M\n  reserved 5-3\n", "bad reserved range \"5-3\"");
  refused(HEAD "message p.M\n  reserved 0\n", "bad reserved range \"0\"");
  // A message set's `extensions 4 to max;` (the lock writes it; it must read it back).
  ck_assert_ptr_null(err_of(HEAD "message p.M\n  message_set\n  extensions 4-2147483646\n"));
  refused(HEAD "message p.M\n  extensions 4-2147483648\n", "bad extensions range");
  ck_assert_ptr_null(err_of(HEAD "enum p.E\n  reserved -5--2 7\n  value -1 X\n  value -1 Y\n"));
  refused(HEAD "enum p.E\n  value 1 X\n  value 1 X\n", "a second live entry for this value");
  refused(HEAD "service p.S\n  rpc Get .p.R .p.R unary\n  rpc Get .p.R .p.R unary\n",
          "a second live entry for this name");
  refused(HEAD "service p.S\n  rpc Get .p.R .p.R unary idempotency=sometimes\n",
          "idempotency= must be no_side_effects or idempotent");
  refused(HEAD "service p.S\n  rpc Get p.R .p.R unary\n", "bad rpc types");
  refused(HEAD "extend p.M\n  extension 5 p.x int32 optional\n", "extension line without file=");
  refused(HEAD "message p.M\n  field 1 a\001 int32 implicit json=a\n", "byte 0x01 must be written %01");
  refused("cpay-lock 4\n", "t.lock:1: unsupported lock file version \"4\"");
  refused("", "t.lock:1: empty lock file");
}
END_TEST

START_TEST(test_lock_version_2_structure) {
  // The grammar of check and end lines (hashes not compared here).
  const char *ok = "cpay-lock 2\n\nfile a.proto\n  syntax proto3\n  check 0000000000000000\n\n"
                   "end 1 0000000000000000\n";
  ck_assert_ptr_null(err_of(ok));
  refused("cpay-lock 2\n\nfile a.proto\n  syntax proto3\n\nend 1 0000000000000000\n",
          "t.lock:3: block `file a.proto` has no `check` line");
  refused("cpay-lock 2\n\nfile a.proto\n  syntax proto3\n  check 0000000000000000\n",
          "t.lock:5: the lock ends at line 5 without its `end` line");
  refused("cpay-lock 2\n\nfile a.proto\n  syntax proto3\n  check 0000000000000000\n\n"
          "end 2 0000000000000000\n",
          "t.lock:7: the end line counts 2 blocks, the lock has 1");
  refused("cpay-lock 2\n\nfile a.proto\n  syntax proto3\n  check 0000000000000000\n"
          "  package p\n\nend 1 0000000000000000\n",
          "t.lock:6: a line after the block's `check` line");
  refused("cpay-lock 2\n\nfile a.proto\n  syntax proto3\n  check 0000000000000000\n\n"
          "end 1 0000000000000000\nmessage p.M\n",
          "t.lock:8: text after the `end` line");
  ck_assert_ptr_null(err_of("cpay-lock 2\n\nend 0 0000000000000000\n# a comment\n\n"));
  refused("cpay-lock 2\n\nend 0 0000000000000000", "the `end` line has no newline");
  // Version 1 has neither.
  refused("cpay-lock 1\n\nend 0 0000000000000000\n", "expected `file|message|enum|extend|service");
}
END_TEST

// The first item of block `name` of kind `kind` in a lock parsed without
// its hashes.
static const cpb_item *item_of(const char *text, cpb_kind kind, const char *name) {
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse_opts(g_mem, text, strlen(text), "t.lock", false, &err);
  ck_assert_msg(s != NULL, "%s", err ? err : "");
  const cpb_block *b = cpb_snap_find(s, kind, name);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_gt(b->item_count, 0);
  return &b->items[0];
}

static const cpb_block *block_of(const char *text, cpb_kind kind, const char *name) {
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse_opts(g_mem, text, strlen(text), "t.lock", false, &err);
  ck_assert_msg(s != NULL, "%s", err ? err : "");
  const cpb_block *b = cpb_snap_find(s, kind, name);
  ck_assert_ptr_nonnull(b);
  return b;
}

// A version 3 lock of these blocks (each a string of lines), with check and
// end lines (their hashes are not compared by err_of and friends).
static const char *v3(const char *const *blocks, size_t n) {
  cps_buf b = {0};
  cps_buf_puts(&b, "cpay-lock 3\n");
  for (size_t i = 0; i < n; i++) cps_buf_printf(&b, "%s  check 0000000000000000\n", blocks[i]);
  cps_buf_printf(&b, "end %zu 0000000000000000\n", n);
  return cps_pool_take(g_mem, &b);
}

#define V3(...) v3((const char *const[]){__VA_ARGS__}, \
                   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define ED_FILE "file a.proto\n  edition 2023\n"

START_TEST(test_lock_version_3_features) {
  // Editions files and the features that differ from their syntax's.
  ck_assert_ptr_null(err_of(V3(ED_FILE, "message p.M\n  file a.proto\n  json_format legacy_best_effort\n"
                                        "  field 1 a string optional json=a utf8=none\n")));
  const cpb_block *f = block_of(V3(ED_FILE), CPB_FILE, "a.proto");
  ck_assert_int_eq(f->syntax, CPS_SYNTAX_EDITIONS);
  ck_assert_int_eq(f->edition, 2023);
  refused("cpay-lock 2\nfile a.proto\n  edition 2023\n", "t.lock:3: `edition` needs `cpay-lock 3`");
  refused(HEAD "message p.M\n  field 1 a string implicit json=a utf8=none\n",
          "t.lock:5: utf8= needs `cpay-lock 3`");
  refused(HEAD "message p.M\n  json_format allow\n", "`json_format` needs `cpay-lock 3`");
  refused(V3("file a.proto\n  edition 23\n"), "bad edition \"23\"");
  refused(V3("file a.proto\n  syntax proto3\n  edition 2023\n"),
          "t.lock:4: a second `syntax` or `edition` line");
  refused(V3(ED_FILE, "message p.M\n  field 1 a int32 optional json=a utf8=none\n"),
          "utf8= on a int32 (only string fields have it)");
  refused(V3(ED_FILE, "message p.M\n  field 1 a string optional json=a utf8=maybe\n"),
          "utf8= must be verify or none");
  refused(V3(ED_FILE, "message p.M\n  json_format strict\n"), "bad json_format \"strict\"");
  refused(V3(ED_FILE, "service p.S\n  json_format allow\n"),
          "`json_format` does not belong in a service block");
  ck_assert_ptr_null(err_of(V3(ED_FILE, "extend p.M\n  extension 5 p.x string optional "
                                        "file=a.proto utf8=none\n")));
  // What a lock leaves out comes from the file's syntax: proto2 strings
  // are not checked and its messages and enums are LEGACY_BEST_EFFORT;
  // proto3 and the editions check strings and ALLOW.
  const char *p2 = "cpay-lock 1\nfile a.proto\n  syntax proto2\nmessage p.M\n  file a.proto\n"
                   "  field 1 a string optional json=a\nenum p.E\n  file a.proto\n  value 0 X\n";
  ck_assert_int_eq(item_of(p2, CPB_MESSAGE, "p.M")->utf8, CPS_UTF8_NONE);
  ck_assert_int_eq(block_of(p2, CPB_MESSAGE, "p.M")->json_format, CPS_JSON_LEGACY_BEST_EFFORT);
  ck_assert_int_eq(block_of(p2, CPB_ENUM, "p.E")->json_format, CPS_JSON_LEGACY_BEST_EFFORT);
  const char *p3 = "cpay-lock 1\nfile a.proto\n  syntax proto3\nmessage p.M\n  file a.proto\n"
                   "  field 1 a map<string,int32> repeated json=a\n  field 2 b int32 implicit json=b\n";
  ck_assert_int_eq(item_of(p3, CPB_MESSAGE, "p.M")->utf8, CPS_UTF8_VERIFY);
  ck_assert_int_eq(item_of(p3, CPB_MESSAGE, "p.M")[1].utf8, 0);  // not a string
  ck_assert_int_eq(block_of(p3, CPB_MESSAGE, "p.M")->json_format, CPS_JSON_ALLOW);
  const char *ed = V3(ED_FILE, "message p.M\n  file a.proto\n  field 1 a string optional json=a\n"
                               "  field 2 b string optional json=b utf8=none\n",
                      "extend p.M\n  extension 5 p.x string optional file=a.proto\n");
  ck_assert_int_eq(item_of(ed, CPB_MESSAGE, "p.M")[0].utf8, CPS_UTF8_VERIFY);
  ck_assert_int_eq(item_of(ed, CPB_MESSAGE, "p.M")[1].utf8, CPS_UTF8_NONE);
  ck_assert_int_eq(item_of(ed, CPB_EXTEND, "p.M")->utf8, CPS_UTF8_VERIFY);
  ck_assert_int_eq(block_of(ed, CPB_MESSAGE, "p.M")->json_format, CPS_JSON_ALLOW);
  // A field of a file the lock does not have: unknown (not compared).
  const char *orphan = "cpay-lock 1\nmessage p.M\n  file gone.proto\n  field 1 a string optional json=a\n";
  ck_assert_int_eq(item_of(orphan, CPB_MESSAGE, "p.M")->utf8, 0);
}
END_TEST

START_TEST(test_lock_version_3_written_only_when_needed) {
  // A proto2 lock formats as version 2 (what earlier versions wrote); an
  // editions file, or a feature that differs from the syntax's, makes it 3.
  const char *p2 = "cpay-lock 1\nfile a.proto\n  syntax proto2\nmessage p.M\n  file a.proto\n"
                   "  field 1 a string optional json=a\n";
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse(g_mem, p2, strlen(p2), "t.lock", &err);
  ck_assert_ptr_nonnull(s);
  char *text = cpb_lock_format(g_mem, s);
  ck_assert_ptr_nonnull(strstr(text, "\ncpay-lock 2\n"));
  ck_assert_ptr_null(strstr(text, "utf8="));
  ck_assert_ptr_null(strstr(text, "json_format"));
  s->blocks[1].items[0].utf8 = CPS_UTF8_VERIFY;  // blocks: the file, then p.M
  text = cpb_lock_format(g_mem, s);
  ck_assert_ptr_nonnull(strstr(text, "\ncpay-lock 3\n"));
  ck_assert_ptr_nonnull(strstr(text, "  field 1 a string optional json=a utf8=verify\n"));
  // ...and it reads back the same.
  cpb_snap *back = cpb_lock_parse(g_mem, text, strlen(text), "t.lock", &err);
  ck_assert_msg(back != NULL, "%s", err ? err : "");
  ck_assert_int_eq(back->version, 3);
  ck_assert_int_eq(back->blocks[1].items[0].utf8, CPS_UTF8_VERIFY);
  ck_assert_str_eq(cpb_lock_format(g_mem, back), text);
}
END_TEST

START_TEST(test_lock_hashes_name_the_block) {
  load_locks();
  // Change one field's name (and nothing else) in a golden lock: the error
  // names the block's first line.
  const golden *g = NULL;
  for (size_t i = 0; i < g_count && !g; i++) {
    if (strcmp(g_locks[i].name, "payments.lock") == 0) g = &g_locks[i];
  }
  ck_assert_ptr_nonnull(g);
  char *t = cps_pool_strdup(g_mem, g->text);
  char *f = strstr(t, "  field 2 customer_id ");
  ck_assert_ptr_nonnull(f);
  f[10] = 'C';
  char *err = NULL;
  ck_assert_ptr_null(cpb_lock_parse(g_mem, t, strlen(t), "t.lock", &err));
  ck_assert_msg(strstr(err, "does not match its check line") && strstr(err, "block `message "),
                "%s", err);
  // Drop a whole block, its check line and all: the end line says so.
  t = cps_pool_strdup(g_mem, g->text);
  char *b = strstr(t, "\nenum ");
  ck_assert_ptr_nonnull(b);
  char *e = strstr(b + 1, "\n\n");
  memmove(b, e, strlen(e) + 1);
  ck_assert_ptr_null(cpb_lock_parse(g_mem, t, strlen(t), "t.lock", &err));
  ck_assert_msg(strstr(err, "the end line counts") != NULL, "%s", err);
}
END_TEST

START_TEST(test_lock_find_in_empty_lock) {
  char *err = NULL;
  cpb_snap *s = cpb_lock_parse(g_mem, "cpay-lock 1\n", 12, "t.lock", &err);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_null(cpb_snap_find(s, CPB_MESSAGE, "p.M"));  // no bsearch on a NULL base
  ck_assert_int_eq(s->version, 1);
}
END_TEST

Suite *lock_suite(void) {
  Suite *s = suite_create("lock");
  TCase *tc = tcase_create("lock");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_lock_golden_locks_parse_and_format_back);
  tcase_add_test(tc, test_lock_every_prefix_refused);
  tcase_add_test(tc, test_lock_every_content_line_deleted_refused);
  tcase_add_test(tc, test_lock_every_byte_changed_refused);
  tcase_add_test(tc, test_lock_strict_entries);
  tcase_add_test(tc, test_lock_version_2_structure);
  tcase_add_test(tc, test_lock_version_3_features);
  tcase_add_test(tc, test_lock_version_3_written_only_when_needed);
  tcase_add_test(tc, test_lock_hashes_name_the_block);
  tcase_add_test(tc, test_lock_find_in_empty_lock);
  suite_add_tcase(s, tc);
  return s;
}
