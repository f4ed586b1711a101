// The JSON syntax layer: a strict RFC 8259 reader that builds a tree on the
// arena. Strings are unescaped and checked for UTF-8 (surrogates must pair),
// numbers are checked against the grammar and kept as text (so 64-bit
// integers never pass through a double), and duplicate object keys are
// rejected, as Python's json_format does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_internal.h"
#include "wire/wire.h"

// Where the reader is, for error messages: one frame per open container.
typedef struct frame {
  cpay_str key;  // objects: the member being read ({NULL, 0} before the first key)
  size_t index;  // arrays: the element being read
  bool is_array;
} frame;

typedef struct reader {
  const char *base;
  const char *p;
  const char *end;
  cpay_arena *a;
  cpay_status *st;
  int depth;
  int max_depth;
  frame *frames;  // [max_depth + 1]
} reader;

const char *cpay__jkind_name(cpay__jkind k) {
  switch (k) {
    case CPAY__JNULL:
      return "null";
    case CPAY__JFALSE:
    case CPAY__JTRUE:
      return "bool";
    case CPAY__JNUM:
      return "number";
    case CPAY__JSTR:
      return "string";
    case CPAY__JARR:
      return "array";
    case CPAY__JOBJ:
      return "object";
  }
  return "?";
}

static size_t off(const reader *r, const char *p) { return (size_t)(p - r->base); }

// The path of the value being read, like "$.a[2]" (truncated when long).
static void render_path(const reader *r, char *buf, size_t cap) {
  size_t n = 0;
  buf[n++] = '$';
  for (int i = 1; i <= r->depth && n + 8 < cap; i++) {
    const frame *f = &r->frames[i];
    int k;
    if (f->is_array) {
      k = snprintf(buf + n, cap - n, "[%zu]", f->index);
    } else if (f->key.data) {
      k = snprintf(buf + n, cap - n, ".%.*s", (int)(f->key.size > 40 ? 40 : f->key.size),
                   f->key.data);
    } else {
      break;
    }
    if (k < 0 || (size_t)k >= cap - n) break;
    n += (size_t)k;
  }
  buf[n < cap ? n : cap - 1] = '\0';
}

static cpay_code fail(reader *r, const char *at, const char *what) {
  char path[128];
  render_path(r, path, sizeof path);
  return cpay_status_set(r->st, CPAY_ERR_MALFORMED, "%s: invalid JSON: %s at offset %zu", path,
                         what, off(r, at));
}

static cpay_code oom(reader *r) {
  return cpay_status_set(r->st, CPAY_ERR_NO_MEMORY, "%s", cpay_arena_error(r->a));
}

static void skip_ws(reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
    r->p++;
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_hex4(reader *r, const char *p, uint32_t *out) {
  if (r->end - p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return false;
    v = v << 4 | (uint32_t)h;
  }
  *out = v;
  return true;
}

// A run of plain characters at r->p (up to `q`, a backslash or a control
// character; it ends at an ASCII byte, never inside a sequence), checked
// for UTF-8 and copied to o + *n at once.
static cpay_code copy_run(reader *r, const char *q, char *o, size_t *n) {
  const char *run = r->p;
  while (r->p < q && *r->p != '\\' && (unsigned char)*r->p >= 0x20) r->p++;
  size_t len = (size_t)(r->p - run), ok = cpay__utf8_valid_prefix(run, len);
  if (ok != len) return fail(r, run + ok, "invalid UTF-8 in string");
  memcpy(o + *n, run, len);
  *n += len;
  return CPAY_OK;
}

// The code point of a \u escape at `esc`, r->p past its four digits: a
// high surrogate must be followed by a \u escape of a low one (r->p then
// past both).
static cpay_code unicode_escape(reader *r, const char *esc, uint32_t *cp) {
  if (!read_hex4(r, r->p, cp)) return fail(r, esc, "invalid \\u escape");
  r->p += 4;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail(r, esc, "unpaired low surrogate");
  if (*cp >= 0xD800 && *cp <= 0xDBFF) {
    uint32_t lo;
    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || !read_hex4(r, r->p + 2, &lo) ||
        lo < 0xDC00 || lo > 0xDFFF) {
      return fail(r, esc, "unpaired high surrogate");
    }
    r->p += 6;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  return CPAY_OK;
}

// The escape at r->p (a backslash), decoded to o + *n.
static cpay_code escape(reader *r, char *o, size_t *n) {
  const char *esc = r->p;
  char e = r->p[1];
  r->p += 2;
  switch (e) {
    case '"':
    case '\\':
    case '/':
      o[(*n)++] = e;
      return CPAY_OK;
    case 'b':
      o[(*n)++] = '\b';
      return CPAY_OK;
    case 'f':
      o[(*n)++] = '\f';
      return CPAY_OK;
    case 'n':
      o[(*n)++] = '\n';
      return CPAY_OK;
    case 'r':
      o[(*n)++] = '\r';
      return CPAY_OK;
    case 't':
      o[(*n)++] = '\t';
      return CPAY_OK;
    case 'u': {
      uint32_t cp;
      cpay_code c = unicode_escape(r, esc, &cp);
      if (c) return c;
      *n += cpay__utf8_put(o + *n, cp);
      return CPAY_OK;
    }
    default:
      return fail(r, esc, "invalid escape");
  }
}

// At the opening quote. Decodes into arena memory: runs of plain
// characters and escapes, until the closing quote.
static cpay_code read_string(reader *r, cpay_str *out) {
  const char *start = r->p++;
  // The decoded text is never longer than the raw text.
  const char *q = r->p;
  while (q < r->end && *q != '"') q += (*q == '\\' && q + 1 < r->end) ? 2 : 1;
  if (q >= r->end) return fail(r, start, "unterminated string");
  char *o = cpay_arena_malloc(r->a, (size_t)(q - r->p) + 1);
  if (!o) return oom(r);
  size_t n = 0;
  while (*r->p != '"') {
    if ((unsigned char)*r->p < 0x20) return fail(r, r->p, "control character in string");
    cpay_code c = *r->p == '\\' ? escape(r, o, &n) : copy_run(r, q, o, &n);
    if (c) return c;
  }
  r->p++;
  o[n] = '\0';
  *out = (cpay_str){o, n};
  return CPAY_OK;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static cpay_code read_number(reader *r, cpay__jv *v) {
  const char *s = r->p, *p = r->p;
  if (p < r->end && *p == '-') p++;
  if (p >= r->end || !is_digit(*p)) return fail(r, s, "invalid number");
  if (*p == '0') {
    p++;
    if (p < r->end && is_digit(*p)) return fail(r, s, "leading zero in number");
  } else {
    while (p < r->end && is_digit(*p)) p++;
  }
  if (p < r->end && *p == '.') {
    p++;
    if (p >= r->end || !is_digit(*p)) return fail(r, s, "invalid number");
    while (p < r->end && is_digit(*p)) p++;
  }
  if (p < r->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < r->end && (*p == '+' || *p == '-')) p++;
    if (p >= r->end || !is_digit(*p)) return fail(r, s, "invalid number");
    while (p < r->end && is_digit(*p)) p++;
  }
  v->kind = CPAY__JNUM;
  v->s = (cpay_str){s, (size_t)(p - s)};
  r->p = p;
  return CPAY_OK;
}

static int cmp_member(const void *a, const void *b) {
  const cpay__jmember *x = *(const cpay__jmember *const *)a;
  const cpay__jmember *y = *(const cpay__jmember *const *)b;
  size_t n = x->key.size < y->key.size ? x->key.size : y->key.size;
  int c = n ? memcmp(x->key.data, y->key.data, n) : 0;
  if (c) return c;
  if (x->key.size != y->key.size) return x->key.size < y->key.size ? -1 : 1;
  return (x->key_off > y->key_off) - (x->key_off < y->key_off);
}

static cpay_code dup_key(reader *r, const cpay__jmember *m) {
  char path[128];
  render_path(r, path, sizeof path);
  return cpay_status_set(r->st, CPAY_ERR_MALFORMED,
                         "%s: invalid JSON: duplicate key \"%.*s\" at offset %zu", path,
                         (int)(m->key.size > 64 ? 64 : m->key.size), m->key.data, m->key_off);
}

static cpay_code check_duplicates(reader *r, cpay__jmember *m, size_t n) {
  if (n < 2) return CPAY_OK;
  if (n <= 8) {
    for (size_t i = 1; i < n; i++) {
      for (size_t k = 0; k < i; k++) {
        if (cpay_str_eq(m[i].key, m[k].key)) {
          return dup_key(r, &m[i]);
        }
      }
    }
    return CPAY_OK;
  }
  cpay__jmember **idx = cpay_arena_malloc(r->a, n * sizeof(*idx));
  if (!idx) return oom(r);
  for (size_t i = 0; i < n; i++) idx[i] = &m[i];
  qsort(idx, n, sizeof(*idx), cmp_member);
  for (size_t i = 1; i < n; i++) {
    if (cpay_str_eq(idx[i]->key, idx[i - 1]->key)) {
      return dup_key(r, idx[i]);
    }
  }
  return CPAY_OK;
}

// Grows *arr (of *cap elements of `size` bytes) on the arena.
static bool grow(reader *r, void **arr, size_t *cap, size_t size) {
  size_t ncap = *cap ? *cap * 2 : 4;
  void *p = cpay_arena_realloc(r->a, *arr, *cap * size, ncap * size);
  if (!p) return false;
  *arr = p;
  *cap = ncap;
  return true;
}

static cpay_code read_value(reader *r, cpay__jv *v);

static cpay_code read_object(reader *r, cpay__jv *v) {
  const char *open = r->p++;
  if (++r->depth > r->max_depth) {
    r->depth--;
    char path[128];
    render_path(r, path, sizeof path);
    return cpay_status_set(r->st, CPAY_ERR_DEPTH, "%s: JSON nesting deeper than %d at offset %zu",
                           path, r->max_depth, off(r, open));
  }
  cpay__jmember *m = NULL;
  size_t n = 0, cap = 0;
  frame *fr = &r->frames[r->depth];
  memset(fr, 0, sizeof(*fr));
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    goto out_done;
  }
  for (;;) {
    skip_ws(r);
    if (r->p >= r->end) return fail(r, r->p, "unterminated object");
    if (*r->p != '"') return fail(r, r->p, "expected a string key");
    if (n == cap && !grow(r, (void **)&m, &cap, sizeof(*m))) return oom(r);
    cpay__jmember *mem = &m[n];
    mem->key_off = off(r, r->p);
    cpay_code c = read_string(r, &mem->key);
    if (c) return c;
    fr->key = mem->key;
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') return fail(r, r->p, "expected ':'");
    r->p++;
    mem->val = cpay_arena_malloc(r->a, sizeof(cpay__jv));
    if (!mem->val) return oom(r);
    c = read_value(r, mem->val);
    if (c) return c;
    fr->key = (cpay_str){NULL, 0};
    n++;
    skip_ws(r);
    if (r->p >= r->end) return fail(r, r->p, "unterminated object");
    if (*r->p == '}') {
      r->p++;
      break;
    }
    if (*r->p != ',') return fail(r, r->p, "expected ',' or '}'");
    r->p++;
  }
out_done:
  fr->key = (cpay_str){NULL, 0};
  cpay_code dc = check_duplicates(r, m, n);
  r->depth--;
  v->kind = CPAY__JOBJ;
  v->u.obj.m = m;
  v->u.obj.n = n;
  return dc;
}

static cpay_code read_array(reader *r, cpay__jv *v) {
  const char *open = r->p++;
  if (++r->depth > r->max_depth) {
    r->depth--;
    char path[128];
    render_path(r, path, sizeof path);
    return cpay_status_set(r->st, CPAY_ERR_DEPTH, "%s: JSON nesting deeper than %d at offset %zu",
                           path, r->max_depth, off(r, open));
  }
  cpay__jv **items = NULL;
  size_t n = 0, cap = 0;
  frame *fr = &r->frames[r->depth];
  memset(fr, 0, sizeof(*fr));
  fr->is_array = true;
  skip_ws(r);
  if (r->p < r->end && *r->p == ']') {
    r->p++;
    goto out_done;
  }
  for (;;) {
    if (n == cap && !grow(r, (void **)&items, &cap, sizeof(*items))) return oom(r);
    items[n] = cpay_arena_malloc(r->a, sizeof(cpay__jv));
    if (!items[n]) return oom(r);
    fr->index = n;
    cpay_code c = read_value(r, items[n]);
    if (c) return c;
    n++;
    skip_ws(r);
    if (r->p >= r->end) return fail(r, r->p, "unterminated array");
    if (*r->p == ']') {
      r->p++;
      break;
    }
    if (*r->p != ',') return fail(r, r->p, "expected ',' or ']'");
    r->p++;
  }
out_done:
  r->depth--;
  v->kind = CPAY__JARR;
  v->u.arr.items = items;
  v->u.arr.n = n;
  return CPAY_OK;
}

static bool literal(reader *r, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return false;
  r->p += n;
  return true;
}

static cpay_code read_value(reader *r, cpay__jv *v) {
  memset(v, 0, sizeof(*v));
  skip_ws(r);
  v->off = off(r, r->p);
  if (r->p >= r->end) return fail(r, r->p, "unexpected end of input");
  switch (*r->p) {
    case '{':
      return read_object(r, v);
    case '[':
      return read_array(r, v);
    case '"':
      v->kind = CPAY__JSTR;
      return read_string(r, &v->s);
    case 't':
      v->kind = CPAY__JTRUE;
      return literal(r, "true") ? CPAY_OK : fail(r, r->p, "invalid literal");
    case 'f':
      v->kind = CPAY__JFALSE;
      return literal(r, "false") ? CPAY_OK : fail(r, r->p, "invalid literal");
    case 'n':
      v->kind = CPAY__JNULL;
      return literal(r, "null") ? CPAY_OK : fail(r, r->p, "invalid literal");
    default:
      if (*r->p == '-' || is_digit(*r->p)) return read_number(r, v);
      return fail(r, r->p, "unexpected character");
  }
}

cpay_code cpay__json_dom(const char *json, size_t len, cpay_arena *a, int max_depth,
                         cpay__jv **out, cpay_status *st) {
  reader r = {json, json, json + len, a, st, 0, max_depth, NULL};
  r.frames = cpay_arena_malloc(a, ((size_t)max_depth + 2) * sizeof(frame));
  if (!r.frames) return oom(&r);
  cpay__jv *v = cpay_arena_malloc(a, sizeof(*v));
  if (!v) return oom(&r);
  cpay_code c = read_value(&r, v);
  if (c) return c;
  skip_ws(&r);
  if (r.p != r.end) return fail(&r, r.p, "trailing characters after the value");
  *out = v;
  return CPAY_OK;
}
