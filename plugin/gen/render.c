// The code printer, with strict variable checking.
#include "gen/render.h"

#include <ctype.h>
#include <string.h>

// More than any construct needs; a longer list is reported, not truncated.
enum { MAX_VARS = 32 };

typedef struct var {
  const char *name;
  const char *value;
  bool used;
} var;

// The failed print: its text and where the error goes.
typedef struct print {
  cps_pool *mem;
  const char **err;
  const char *text;
} print;

// Sets *err to "print \"<first line>\": <what> $<name>$", naming at most 60
// bytes of the text's first line (the first error wins).
static bool fail(const print *p, const char *what, const char *name, size_t len) {
  if (p->err != NULL && *p->err == NULL) {
    size_t n = strcspn(p->text, "\n");
    *p->err = cps_pool_printf(p->mem, "print \"%.*s%s\": %s $%.*s$", (int)(n > 60 ? 60 : n),
                              p->text, n > 60 ? "..." : "", what, (int)len, name);
  }
  return false;
}

// Reads the name, value pairs up to the CPG_END that ends them into `vars`.
static bool read_vars(const print *p, va_list ap, var *vars, size_t *count) {
  *count = 0;
  for (;;) {
    const char *name = va_arg(ap, const char *);
    if (name == NULL) return true;
    const char *value = va_arg(ap, const char *);
    if (value == NULL) return fail(p, "no value (or no CPG_END after the list) for", name,
                                   strlen(name));
    if (*count == MAX_VARS) return fail(p, "too many variables at", name, strlen(name));
    for (size_t k = 0; k < *count; k++) {
      if (strcmp(vars[k].name, name) == 0) {
        return fail(p, "two values for", name, strlen(name));
      }
    }
    vars[(*count)++] = (var){name, value, false};
  }
}

bool cpg_vrender(cps_pool *mem, cps_buf *out, const char **err, const char *text,
                 va_list ap) {
  const print pr = {mem, err, text};
  var vars[MAX_VARS];
  size_t count;
  if (!read_vars(&pr, ap, vars, &count)) return false;
  size_t start = out->size;
  bool ok = true;
  const char *p = text;
  for (;;) {
    const char *dollar = strchr(p, '$');
    if (dollar == NULL) {
      cps_buf_puts(out, p);
      break;
    }
    cps_buf_append(out, p, (size_t)(dollar - p));
    const char *close = strchr(dollar + 1, '$');
    if (close == NULL) {
      size_t rest = strcspn(dollar + 1, "\n");
      ok = fail(&pr, "unterminated hole", dollar + 1, rest > 20 ? 20 : rest);
      break;
    }
    size_t nlen = (size_t)(close - (dollar + 1));
    p = close + 1;
    if (nlen == 0) {
      cps_buf_append(out, "$", 1);
      continue;
    }
    size_t k = 0;
    while (k < count && (strlen(vars[k].name) != nlen || memcmp(vars[k].name, dollar + 1, nlen))) {
      k++;
    }
    if (k == count) {
      ok = fail(&pr, "unknown variable", dollar + 1, nlen);
      break;
    }
    vars[k].used = true;
    cps_buf_puts(out, vars[k].value);
  }
  for (size_t k = 0; ok && k < count; k++) {
    if (!vars[k].used) ok = fail(&pr, "unused variable", vars[k].name, strlen(vars[k].name));
  }
  if (!ok) {
    out->size = start;
    if (out->data) out->data[start] = '\0';
  }
  return ok;
}

bool cpg_render(cps_pool *mem, cps_buf *out, const char **err, const char *text, ...) {
  va_list ap;
  va_start(ap, text);
  bool ok = cpg_vrender(mem, out, err, text, ap);
  va_end(ap);
  return ok;
}

// ---- line wrapping -----------------------------------------------------------------

// Where a code line may break, in the order of preference (see render.h).
enum { NO_BREAK, AT_COMMA, AT_PAREN, AT_ASSIGN, AT_SPACE };

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

// Classifies the break points of `s` (`n` bytes): kind[i] says how the line
// may break before s[i] (at a space the space is dropped). Returns the
// index of a `//` comment outside string literals, or `n`.
static size_t break_points(const char *s, size_t n, unsigned char *kind) {
  bool in_string = false;
  memset(kind, NO_BREAK, n);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      return i;
    } else if (c == ' ' && i > 0) {
      bool assign = i >= 2 && s[i - 1] == '=' && s[i - 2] == ' ';
      kind[i] = s[i - 1] == ',' ? AT_COMMA : assign ? AT_ASSIGN : AT_SPACE;
    } else if (i >= 2 && s[i - 1] == '(' && ident_char(s[i - 2]) && c != ')') {
      kind[i] = AT_PAREN;
    }
  }
  return n;
}

static size_t leading_spaces(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] == ' ') i++;
  return i;
}

// Appends `s` (`n` bytes) and a newline, without trailing spaces.
static void put_line(cps_buf *out, const char *s, size_t n) {
  while (n > 0 && s[n - 1] == ' ') n--;
  cps_buf_append(out, s, n);
  cps_buf_append(out, "\n", 1);
}

// A comment line: breaks at the last space that fits, continuing with the
// line's own prefix (indentation, `//` and the spaces after it).
static void wrap_comment(cps_buf *out, const char *s, size_t n, size_t width) {
  size_t prefix = leading_spaces(s, n) + 2;
  while (prefix < n && s[prefix] == ' ') prefix++;
  cps_buf line = {0};
  cps_buf_append(&line, s, n);
  while (line.size > width) {
    // The last space that fits, else the first one: a word longer than the
    // line gets a line of its own.
    size_t p = width;
    while (p > prefix && line.data[p] != ' ') p--;
    if (p <= prefix) {
      p = width + 1;
      while (p < line.size && line.data[p] != ' ') p++;
      if (p == line.size) break;
    }
    put_line(out, line.data, p);
    size_t rest = p;
    while (rest < line.size && line.data[rest] == ' ') rest++;
    cps_buf next = {0};
    cps_buf_append(&next, s, prefix);
    cps_buf_append(&next, line.data + rest, line.size - rest);
    cps_buf_free(&line);
    line = next;
  }
  put_line(out, line.data, line.size);
  cps_buf_free(&line);
}

// The break of a code line: the first call parenthesis after which the rest
// fits at `cont` (when `paren_first`), else the preferred kind that fits,
// else the first break point past `width` (a name longer than the line
// then gets a line of its own). 0 when there is none past `cont` (a break
// there would not shorten the line).
static size_t choose_break(const char *s, size_t n, const unsigned char *kind, size_t cont,
                           size_t width, bool paren_first) {
  size_t limit = n - 1 < width ? n - 1 : width;
  if (paren_first) {
    for (size_t p = cont + 1; p <= limit; p++) {
      if (kind[p] == AT_PAREN && cont + (n - p) <= width) return p;
    }
  }
  for (int want = AT_COMMA; want <= AT_SPACE; want++) {
    if (want == AT_PAREN) {
      for (size_t p = cont + 1; p <= limit; p++) {
        if (kind[p] == AT_PAREN) return p;
      }
      continue;
    }
    for (size_t p = limit; p > cont; p--) {
      if (kind[p] == want) return p;
    }
  }
  for (size_t p = (width > cont ? width : cont) + 1; p < n; p++) {
    if (kind[p] != NO_BREAK) return p;
  }
  return 0;
}

// A code line (no comment): breaks it until it fits or cannot break.
static void wrap_code(cps_pool *mem, cps_buf *out, const char *s, size_t n, size_t width,
                      bool continues) {
  size_t indent = leading_spaces(s, n);
  size_t cont = continues ? indent : indent + 4;
  // Rows of an initializer read better broken between their elements.
  bool paren_first = !continues && indent < n && s[indent] != '{';
  cps_buf line = {0};
  cps_buf_append(&line, s, n);
  unsigned char *kind = cps_pool_alloc(mem, n + 1);
  while (line.size > width) {
    break_points(line.data, line.size, kind);
    size_t p = choose_break(line.data, line.size, kind, cont, width, paren_first);
    if (p == 0) break;
    put_line(out, line.data, p);
    size_t rest = kind[p] == AT_PAREN ? p : p + 1;
    while (rest < line.size && line.data[rest] == ' ') rest++;
    cps_buf next = {0};
    for (size_t i = 0; i < cont; i++) cps_buf_append(&next, " ", 1);
    cps_buf_append(&next, line.data + rest, line.size - rest);
    cps_buf_free(&line);
    line = next;
    paren_first = false;
  }
  put_line(out, line.data, line.size);
  cps_buf_free(&line);
}

void cpg_wrap(cps_pool *mem, cps_buf *text, size_t width) {
  if (text->data == NULL) return;
  cps_buf out = {0};
  const char *p = text->data, *end = text->data + text->size;
  bool continues = false;  // the line continues a list begun on a line above
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    size_t indent = leading_spaces(p, n);
    bool comment_line = n >= indent + 2 && p[indent] == '/' && p[indent + 1] == '/';
    if (n <= width || (indent < n && p[indent] == '#')) {
      cps_buf_append(&out, p, n);
      if (nl) cps_buf_append(&out, "\n", 1);
    } else if (comment_line) {
      wrap_comment(&out, p, n, width);
    } else {
      size_t c = break_points(p, n, cps_pool_alloc(mem, n));
      if (c < n) {
        // The trailing comment goes above the code, at its indentation.
        cps_buf comment = {0};
        for (size_t i = 0; i < indent; i++) cps_buf_append(&comment, " ", 1);
        cps_buf_append(&comment, p + c, n - c);
        wrap_comment(&out, comment.data, comment.size, width);
        cps_buf_free(&comment);
        n = c;
      }
      wrap_code(mem, &out, p, n, width, continues);
    }
    // What this line ends with decides whether the next one continues it.
    size_t last = n;
    while (last > 0 && p[last - 1] == ' ') last--;
    if (last == 0) {
      continues = false;
    } else if (!comment_line) {
      char e = p[last - 1];
      continues = e == '(' || (e == ',' && continues);
    }
    p = nl ? nl + 1 : end;
  }
  cps_buf_free(text);
  *text = out;
}
