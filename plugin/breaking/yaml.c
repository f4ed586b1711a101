// The YAML that configuration files use (see yaml.h): block mappings and
// sequences by indentation, `- key: value` items, flow sequences, plain and
// quoted scalars, comments. Anything else is an error naming its line.
#include "breaking/yaml.h"

#include <stdarg.h>
#include <string.h>

#include "schema/buf.h"
#include "schema/diag.h"

typedef struct line {
  int no;       // 1-based
  int indent;   // spaces before the text
  char *text;   // without indentation, comment and trailing spaces
} line;

typedef struct parser {
  cps_pool *mem;  // the nodes, their strings and the lines
  const char *path;
  line *lines;
  size_t count, cap, pos;
  char *err;      // the first error, in mem
  int depth;
} parser;

#define MAX_DEPTH 64

static bool fail(parser *p, int lineno, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool fail(parser *p, int lineno, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cps_error_at(p->mem, &p->err, p->path, lineno, fmt, ap);
  va_end(ap);
  return false;
}

static yaml_node *node_new(parser *p, yaml_kind kind, int lineno) {
  yaml_node *n = cps_pool_alloc(p->mem, sizeof *n);
  n->kind = kind;
  n->line = lineno;
  return n;
}

static void push(parser *p, yaml_node *n, const char *key, yaml_node *item) {
  size_t keys_cap = n->cap;  // the keys grow with the items
  n->items = cps_pool_grow(p->mem, n->items, n->count, &n->cap, sizeof *n->items);
  if (n->kind == YAML_MAP) {
    n->keys = cps_pool_grow(p->mem, n->keys, n->count, &keys_cap, sizeof *n->keys);
  }
  n->items[n->count] = item;
  if (n->kind == YAML_MAP) n->keys[n->count] = key;
  n->count++;
}

const yaml_node *yaml_get(const yaml_node *map, const char *key) {
  if (!map || map->kind != YAML_MAP) return NULL;
  for (size_t i = 0; i < map->count; i++) {
    if (strcmp(map->keys[i], key) == 0) return map->items[i];
  }
  return NULL;
}

// ---- scalars ---------------------------------------------------------------

// Reads a scalar starting at *s and ending at one of `stops` (or the end);
// quoted ones are unquoted. NULL (with the error) when malformed.
static char *scalar(parser *p, int lineno, const char **s, const char *stops) {
  const char *q = *s;
  char *r = cps_pool_alloc(p->mem, strlen(q) + 1);  // unquoting only shortens
  char *w = r;
  if (*q == '"' || *q == '\'') {
    char quote = *q++;
    for (;; q++) {
      if (!*q) {
        fail(p, lineno, "unterminated %s-quoted string", quote == '"' ? "double" : "single");
        return NULL;
      }
      if (quote == '\'' && q[0] == '\'' && q[1] == '\'') {
        *w++ = '\'';
        q++;
      } else if (*q == quote) {
        q++;
        break;
      } else if (quote == '"' && *q == '\\') {
        char c = *++q;
        const char *from = "\"\\/ntr0", *to = "\"\\/\n\t\r";
        const char *at = c ? strchr(from, c) : NULL;
        if (!at || c == '0') {
          fail(p, lineno, "unsupported escape \"\\%c\" in a double-quoted string", c ? c : ' ');
          return NULL;
        }
        *w++ = to[at - from];
      } else {
        *w++ = *q;
      }
    }
    while (*q == ' ') q++;
    if (*q && !strchr(stops, *q)) {
      fail(p, lineno, "unexpected text after a quoted string: \"%s\"", q);
      return NULL;
    }
  } else {
    const char *start = q;
    while (*q && !strchr(stops, *q)) q++;
    const char *end = q;
    while (end > start && end[-1] == ' ') end--;
    memcpy(w, start, (size_t)(end - start));
    w += end - start;
  }
  *w = '\0';
  *s = q;
  return r;
}

// A value written on the key's or the dash's line: a flow sequence, an
// empty flow mapping or a scalar.
static yaml_node *inline_value(parser *p, int lineno, const char *s) {
  if (*s == '[') {
    yaml_node *seq = node_new(p, YAML_SEQ, lineno);
    s++;
    while (*s == ' ') s++;
    if (*s == ']') {
      s++;
    } else {
      for (;;) {
        while (*s == ' ') s++;
        if (*s == '[' || *s == '{') {
          fail(p, lineno, "nested flow collections are not supported");
          return NULL;
        }
        char *v = scalar(p, lineno, &s, ",]");
        if (!v) return NULL;
        yaml_node *item = node_new(p, YAML_SCALAR, lineno);
        item->str = v;
        push(p, seq, NULL, item);
        if (*s == ',') {
          s++;
          continue;
        }
        if (*s == ']') {
          s++;
          break;
        }
        fail(p, lineno, "unterminated flow sequence (a ']' is missing)");
        return NULL;
      }
    }
    while (*s == ' ') s++;
    if (*s) {
      fail(p, lineno, "unexpected text after a flow sequence: \"%s\"", s);
      return NULL;
    }
    return seq;
  }
  if (*s == '{') {
    const char *q = s + 1;
    while (*q == ' ') q++;
    if (q[0] != '}' || q[1 + strspn(q + 1, " ")] != '\0') {
      fail(p, lineno, "flow mappings other than {} are not supported");
      return NULL;
    }
    return node_new(p, YAML_MAP, lineno);
  }
  if (*s == '&' || *s == '*' || *s == '!' || *s == '|' || *s == '>') {
    fail(p, lineno, "anchors, aliases, tags and block scalars are not supported");
    return NULL;
  }
  char *v = scalar(p, lineno, &s, "");
  if (!v) return NULL;
  yaml_node *n = node_new(p, YAML_SCALAR, lineno);
  n->str = v;
  return n;
}

// Splits "key: rest" (or "key:"); false when the text is no mapping entry.
// *key is in the pool, *rest points into text.
static bool split_key(parser *p, int lineno, const char *text, const char **key,
                      const char **rest) {
  const char *s = text;
  *key = NULL;
  if (*s == '"' || *s == '\'') {
    char *k = scalar(p, lineno, &s, ":");
    if (!k || *s != ':' || (s[1] && s[1] != ' ')) return false;
    *key = k;
  } else {
    const char *colon = NULL;
    for (const char *q = s; *q; q++) {
      if (*q == ':' && (q[1] == ' ' || q[1] == '\0')) {
        colon = q;
        break;
      }
    }
    if (!colon || colon == s) return false;
    *key = cps_pool_strndup(p->mem, s, (size_t)(colon - s));
    s = colon;
  }
  s++;
  while (*s == ' ') s++;
  *rest = s;
  return true;
}

// ---- blocks ----------------------------------------------------------------

static yaml_node *block(parser *p, int indent);

static bool is_item(const line *l) { return l->text[0] == '-' && (l->text[1] == ' ' || !l->text[1]); }

// The value of an entry whose own line had nothing after "key:" or "-": the
// more indented block after it, a sequence at the same indentation (for a
// mapping key, as YAML allows), or null.
static yaml_node *nested(parser *p, int indent, int lineno, bool key) {
  if (p->pos < p->count) {
    const line *next = &p->lines[p->pos];
    if (next->indent > indent) return block(p, next->indent);
    if (key && next->indent == indent && is_item(next)) return block(p, indent);
  }
  return node_new(p, YAML_NULL, lineno);
}

static yaml_node *mapping(parser *p, int indent) {
  yaml_node *map = node_new(p, YAML_MAP, p->lines[p->pos].no);
  while (!p->err && p->pos < p->count && p->lines[p->pos].indent == indent &&
         !is_item(&p->lines[p->pos])) {
    line *l = &p->lines[p->pos];
    const char *key;
    const char *rest;
    if (!split_key(p, l->no, l->text, &key, &rest)) {
      if (!p->err) fail(p, l->no, "expected `key: value`, found \"%s\"", l->text);
      break;
    }
    if (yaml_get(map, key)) {
      fail(p, l->no, "key \"%s\" given twice", key);
      break;
    }
    p->pos++;
    yaml_node *v = *rest ? inline_value(p, l->no, rest) : nested(p, indent, l->no, true);
    if (!v) {
      break;
    }
    push(p, map, key, v);
  }
  return map;
}

static yaml_node *sequence(parser *p, int indent) {
  yaml_node *seq = node_new(p, YAML_SEQ, p->lines[p->pos].no);
  while (!p->err && p->pos < p->count && p->lines[p->pos].indent == indent &&
         is_item(&p->lines[p->pos])) {
    line *l = &p->lines[p->pos];
    const char *rest = l->text + 1;
    while (*rest == ' ') rest++;
    yaml_node *v;
    const char *key;
    const char *after;
    if (!*rest) {
      p->pos++;
      v = nested(p, indent, l->no, false);
    } else if (split_key(p, l->no, rest, &key, &after)) {
      // "- key: value": a mapping whose first entry is on the dash's line;
      // its other entries are indented like that first key.
      int inner = indent + (int)(rest - l->text);
      memmove(l->text, rest, strlen(rest) + 1);
      l->indent = inner;
      v = block(p, inner);
    } else if (p->err) {
      v = NULL;
    } else {
      p->pos++;
      v = inline_value(p, l->no, rest);
    }
    if (!v) break;
    push(p, seq, NULL, v);
  }
  return seq;
}

static yaml_node *block(parser *p, int indent) {
  if (++p->depth > MAX_DEPTH) {
    fail(p, p->lines[p->pos].no, "nested more than %d levels deep", MAX_DEPTH);
    p->depth--;
    return NULL;
  }
  yaml_node *n = is_item(&p->lines[p->pos]) ? sequence(p, indent) : mapping(p, indent);
  if (!p->err && p->pos < p->count && p->lines[p->pos].indent > indent) {
    fail(p, p->lines[p->pos].no, "unexpected indentation");
  }
  p->depth--;
  return p->err ? NULL : n;
}

// ---- lines -----------------------------------------------------------------

// Splits the text into lines without blanks and comments. Tabs may not
// indent (YAML forbids them).
static bool split_lines(parser *p, const char *text, size_t size) {
  const char *q = text, *end = text + size;
  int no = 0;
  while (q < end) {
    const char *nl = memchr(q, '\n', (size_t)(end - q));
    size_t len = nl ? (size_t)(nl - q) : (size_t)(end - q);
    no++;
    if (memchr(q, '\0', len)) return fail(p, no, "NUL byte (a configuration file is text)");
    int indent = 0;
    while ((size_t)indent < len && q[indent] == ' ') indent++;
    if ((size_t)indent < len && q[indent] == '\t') return fail(p, no, "a tab indents this line");
    // The comment: a '#' at the start or after a space, outside quotes.
    size_t cut = len;
    char quote = 0;
    for (size_t i = (size_t)indent; i < len; i++) {
      char c = q[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        if (i == (size_t)indent || q[i - 1] == ' ' || q[i - 1] == '[' || q[i - 1] == ',' ||
            q[i - 1] == '-' || q[i - 1] == ':') {
          quote = c;
        }
      } else if (c == '#' && (i == (size_t)indent || q[i - 1] == ' ')) {
        cut = i;
        break;
      }
    }
    while (cut > (size_t)indent && (q[cut - 1] == ' ' || q[cut - 1] == '\r' || q[cut - 1] == '\t')) {
      cut--;
    }
    if (cut > (size_t)indent) {
      char *t = cps_pool_strndup(p->mem, q + indent, cut - (size_t)indent);
      if (p->count == 0 && strcmp(t, "---") == 0) {  // the start of the (only) document
        q = nl ? nl + 1 : end;
        continue;
      }
      if (strcmp(t, "---") == 0 || strcmp(t, "...") == 0) {
        return fail(p, no, "a second document (only one is read)");
      }
      p->lines = cps_pool_grow(p->mem, p->lines, p->count, &p->cap, sizeof *p->lines);
      p->lines[p->count++] = (line){no, indent, t};
    }
    q = nl ? nl + 1 : end;
  }
  return true;
}

yaml_node *yaml_parse(cps_pool *mem, const char *text, size_t size, const char *path, char **err) {
  parser p;
  memset(&p, 0, sizeof p);
  p.mem = mem;
  p.path = path;
  yaml_node *root = NULL;
  if (split_lines(&p, text, size)) {
    if (p.count == 0) {
      root = node_new(&p, YAML_MAP, 1);
    } else {
      root = block(&p, p.lines[0].indent);
      if (root && p.pos < p.count) {
        fail(&p, p.lines[p.pos].no, "unexpected text at a lesser indentation");
        root = NULL;
      }
    }
  }
  if (p.err) {
    *err = p.err;
    return NULL;
  }
  return root;
}
