// One parser for a table of options, in the plugin parameter spelling and
// the command line one: they differ only in how keys and values are found;
// take() and finish() do the rest for both.
//
// Keys are checked as they come, values once everything is read: the last
// value given for a key is the one that counts, and the only one checked
// (as cpay-breaking always did with --rules and --format).
#include "schema/params.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  cps_pool *mem;
  const cps_param_spec *specs;
  int count;
  bool command_line;  // keys are written --key and -K, not key=
  bool stop;          // a COMMAND row was given
  bool *given;        // by row: a value is waiting in `value`
  const char **value; // by row: the last one given (NULL: the key alone)
} parser;

static parser parser_new(cps_pool *mem, const cps_param_spec *specs, int count, bool command_line) {
  parser p = {mem, specs, count, command_line, false, NULL, NULL};
  p.given = cps_pool_alloc(mem, (size_t)count * sizeof *p.given);
  p.value = cps_pool_alloc(mem, (size_t)count * sizeof *p.value);
  return p;
}

static bool is_ident(const char *s) {
  if (*s == '\0') return false;
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return false;
  for (s++; *s; s++) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return false;
  }
  return true;
}

// The length of a row's key without its "=WHAT".
static size_t key_len(const cps_param_spec *s) { return strcspn(s->key, "="); }

static bool takes_value(const cps_param_spec *s) {
  return s->kind != CPS_PARAM_BOOL && s->kind != CPS_PARAM_COMMAND;
}

// The row for the key of `len` bytes at `name`, or NULL.
static const cps_param_spec *find(const parser *p, const char *name, size_t len) {
  for (int i = 0; i < p->count; i++) {
    const cps_param_spec *s = &p->specs[i];
    if (s->key && key_len(s) == len && strncmp(s->key, name, len) == 0) return s;
  }
  return NULL;
}

// How messages name a row: "parameter api_macro", "--lock", "-I".
static const char *what(const parser *p, const cps_param_spec *s) {
  int n = (int)key_len(s);
  if (!p->command_line) return cps_pool_printf(p->mem, "parameter %.*s", n, s->key);
  return cps_pool_printf(p->mem, "%s%.*s", n == 1 ? "-" : "--", n, s->key);
}

// "a, b or c".
static const char *alternatives(cps_pool *mem, const char *const *names) {
  cps_buf b = {0};
  for (size_t i = 0; names[i]; i++) {
    cps_buf_printf(&b, "%s%s", i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
  }
  return cps_pool_take(mem, &b);
}

// Stores `value` (NULL: the key alone) for row `s`. Returns the error, or NULL.
static const char *set(parser *p, const cps_param_spec *s, const char *value) {
  assert(s->kind != CPS_PARAM_COMMAND && s->kind != CPS_PARAM_LIST);  // see take()
  switch (s->kind) {
    case CPS_PARAM_BOOL:
      if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        *(bool *)s->dest = true;
      } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        *(bool *)s->dest = false;
      } else {
        return cps_pool_printf(p->mem, "%s: expected true or false, got \"%s\"", what(p, s), value);
      }
      return NULL;
    case CPS_PARAM_IDENT:
      if (!is_ident(value)) {
        return cps_pool_printf(p->mem, "%s: \"%s\" is not a C identifier", what(p, s), value);
      }
      *(const char **)s->dest = value;
      return NULL;
    case CPS_PARAM_STRING:
      *(const char **)s->dest = value;
      return NULL;
    case CPS_PARAM_INT: {
      char *end;
      errno = 0;
      long v = strtol(value, &end, 10);
      if (*value == '\0' || *end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX ||
          (*value != '-' && (*value < '0' || *value > '9'))) {
        return cps_pool_printf(p->mem, "%s: expected a whole number, got \"%s\"", what(p, s), value);
      }
      *(int *)s->dest = (int)v;
      return NULL;
    }
    case CPS_PARAM_CHOICE: {
      const cps_param_choice *c = s->dest;
      for (int i = 0; c->names[i]; i++) {
        if (strcmp(c->names[i], value) == 0) {
          *c->index = i;
          return NULL;
        }
      }
      return cps_pool_printf(p->mem, "%s must be %s, not %s", what(p, s),
                             alternatives(p->mem, c->names), value);
    }
    case CPS_PARAM_COMMAND:
    case CPS_PARAM_LIST: break;
  }
  return NULL;
}

// Takes `value` for row `s` as it comes: a command and a list's items at
// once, other values when the parse is done. Returns the error, or NULL.
static const char *take(parser *p, const cps_param_spec *s, const char *value) {
  if (s->kind == CPS_PARAM_COMMAND) {
    if (value != NULL) return cps_pool_printf(p->mem, "%s takes no value", what(p, s));
    *(bool *)s->dest = true;
    p->stop = true;
  } else if (s->kind == CPS_PARAM_LIST) {
    cps_param_list *l = s->dest;
    l->items = cps_pool_grow(p->mem, l->items, l->count, &l->cap, sizeof *l->items);
    l->items[l->count++] = value;
  } else {
    p->given[s - p->specs] = true;
    p->value[s - p->specs] = value;
  }
  return NULL;
}

// Checks and stores the values taken, in table order; after a command, none.
static const char *finish(parser *p) {
  for (int i = 0; i < p->count && !p->stop; i++) {
    const char *err = p->given[i] ? set(p, &p->specs[i], p->value[i]) : NULL;
    if (err) return err;
  }
  return NULL;
}

const char *cps_params_parse(cps_pool *mem, const char *text, const cps_param_spec *specs,
                             int count) {
  parser p = parser_new(mem, specs, count, false);
  const char *q = text ? text : "";
  while (*q && !p.stop) {
    size_t len = strcspn(q, ",");
    char *item = cps_pool_strndup(mem, q, len);
    q += len + (q[len] == ',');
    if (len == 0) continue;
    char *eq = strchr(item, '=');
    const char *value = NULL;
    if (eq) {
      *eq = '\0';
      value = eq + 1;
    }
    const cps_param_spec *s = find(&p, item, strlen(item));
    if (s == NULL) {
      cps_buf keys = {0};
      for (int i = 0; i < count; i++) {
        if (specs[i].key) {
          cps_buf_printf(&keys, "%s%.*s", keys.size ? ", " : "", (int)key_len(&specs[i]),
                         specs[i].key);
        }
      }
      const char *r = cps_pool_printf(mem, "unknown parameter \"%s\" (known parameters: %s)", item,
                                      cps_buf_str(&keys));
      cps_buf_free(&keys);
      return r;
    }
    if (takes_value(s) && (value == NULL || *value == '\0')) {
      return cps_pool_printf(mem, "parameter %s needs a value (%s=...)", item, item);
    }
    const char *err = take(&p, s, value);
    if (err) return err;
  }
  return finish(&p);
}

// The positional row for the next positional argument, from row `*next` on:
// a LIST row takes every one left, any other row one.
static const cps_param_spec *positional(const parser *p, int *next) {
  for (; *next < p->count; (*next)++) {
    const cps_param_spec *s = &p->specs[*next];
    if (s->key != NULL) continue;
    if (s->kind != CPS_PARAM_LIST) (*next)++;
    return s;
  }
  return NULL;
}

const char *cps_args_parse(cps_pool *mem, int argc, char **argv, const cps_param_spec *specs,
                           int count) {
  parser p = parser_new(mem, specs, count, true);
  int next = 0;                              // where positional() looks next
  const cps_param_spec *last_pos = NULL;     // the last positional row filled
  for (int i = 1; i < argc && !p.stop; i++) {
    const char *a = argv[i];
    const cps_param_spec *s;
    const char *value = NULL;
    if (a[0] != '-' || a[1] == '\0') {
      s = positional(&p, &next);
      if (s == NULL) {
        return last_pos ? cps_pool_printf(mem, "more than one %s: %s", last_pos->help, a)
                        : cps_pool_printf(mem, "unknown argument %s", a);
      }
      last_pos = s;
      value = a;
    } else if (a[1] == '-') {
      size_t len = strcspn(a + 2, "=");
      s = len > 1 ? find(&p, a + 2, len) : NULL;
      if (s && a[2 + len] == '=') value = a + 3 + len;
    } else {
      s = find(&p, a + 1, 1);
      if (s && a[2]) value = a + 2;
    }
    if (s == NULL) return cps_pool_printf(mem, "unknown option %s", a);
    if (value == NULL && takes_value(s)) {
      if (i + 1 >= argc) return cps_pool_printf(mem, "missing value after %s", a);
      value = argv[++i];
    }
    const char *err = take(&p, s, value);
    if (err) return err;
  }
  const char *err = finish(&p);
  if (err) return err;
  for (int k = next; k < count && !p.stop; k++) {
    if (specs[k].key == NULL && specs[k].kind != CPS_PARAM_LIST) {
      return cps_pool_printf(mem, "missing the %s", specs[k].help);
    }
  }
  return NULL;
}

// Help for `specs` in either spelling: the key as given ("--lock FILE",
// "lock=FILE"), then the text (see cps_args_help).
static void help(const cps_param_spec *specs, int count, bool command_line, cps_buf *out) {
  const char *sep = command_line ? " " : "=";  // between a key and what its value is
  for (int i = 0; i < count; i++) {
    const cps_param_spec *s = &specs[i];
    if (s->key == NULL || s->help == NULL) continue;
    int n = (int)key_len(s);
    cps_buf flag = {0};
    cps_buf_printf(&flag, "%s%.*s", !command_line ? "" : n == 1 ? "-" : "--", n, s->key);
    if (s->key[n] == '=') {
      cps_buf_printf(&flag, "%s%s", sep, s->key + n + 1);
    } else if (s->kind == CPS_PARAM_CHOICE) {
      const cps_param_choice *c = s->dest;
      for (size_t k = 0; c->names[k]; k++) cps_buf_printf(&flag, "%s%s", k ? "|" : sep, c->names[k]);
    } else if (takes_value(s)) {
      cps_buf_printf(&flag, "%s%s", sep, s->kind == CPS_PARAM_INT     ? "N"
                                         : s->kind == CPS_PARAM_IDENT ? "IDENT"
                                                                      : "VALUE");
    }
    // The text starts at column 19, two spaces after a longer option.
    cps_buf_printf(out, "  %-*s", flag.size < 16 ? 17 : (int)flag.size + 2, cps_buf_str(&flag));
    for (const char *h = s->help; *h;) {
      size_t len = strcspn(h, "\n");
      cps_buf_append(out, h, len);
      cps_buf_puts(out, "\n");
      h += len;
      if (*h == '\n' && *++h) cps_buf_printf(out, "%19s", "");
    }
    cps_buf_free(&flag);
  }
}

void cps_args_help(const cps_param_spec *specs, int count, cps_buf *out) {
  help(specs, count, true, out);
}

void cps_params_help(const cps_param_spec *specs, int count, cps_buf *out) {
  help(specs, count, false, out);
}
