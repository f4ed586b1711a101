// The code printer, with strict variable checking.
#include "render.h"

#include <stdlib.h>
#include <string.h>

// More than any construct needs; a longer list is reported, not truncated.
enum { MAX_VARS = 32 };

typedef struct var {
  const char *name;
  const char *value;
  bool used;
} var;

// The first line of `text` (at most 60 bytes), to say which print failed.
static char *where(const char *text) {
  size_t n = strcspn(text, "\n");
  return cpf_xasprintf("print \"%.*s%s\"", (int)(n > 60 ? 60 : n), text, n > 60 ? "..." : "");
}

// Sets *err to "print \"<first line>\": <what> <name>" (the first error wins).
static bool fail(char **err, const char *text, const char *what, const char *name, size_t len) {
  if (err != NULL && *err == NULL) {
    char *w = where(text);
    *err = cpf_xasprintf("%s: %s $%.*s$", w, what, (int)len, name);
    free(w);
  }
  return false;
}

// Reads the name, value pairs up to the CPR_END that ends them into `vars`.
static bool read_vars(const char *text, va_list ap, var *vars, size_t *count, char **err) {
  *count = 0;
  for (;;) {
    const char *name = va_arg(ap, const char *);
    if (name == NULL) return true;
    const char *value = va_arg(ap, const char *);
    if (value == NULL) return fail(err, text, "no value (or no CPR_END after the list) for", name,
                                   strlen(name));
    if (*count == MAX_VARS) return fail(err, text, "too many variables at", name, strlen(name));
    for (size_t k = 0; k < *count; k++) {
      if (strcmp(vars[k].name, name) == 0) {
        return fail(err, text, "two values for", name, strlen(name));
      }
    }
    vars[(*count)++] = (var){name, value, false};
  }
}

bool cpr_vprint(cpf_buf *out, char **err, const char *text, va_list ap) {
  var vars[MAX_VARS];
  size_t count;
  if (!read_vars(text, ap, vars, &count, err)) return false;
  size_t start = out->size;
  bool ok = true;
  const char *p = text;
  for (;;) {
    const char *dollar = strchr(p, '$');
    if (dollar == NULL) {
      cpf_buf_puts(out, p);
      break;
    }
    cpf_buf_append(out, p, (size_t)(dollar - p));
    const char *close = strchr(dollar + 1, '$');
    if (close == NULL) {
      size_t rest = strcspn(dollar + 1, "\n");
      ok = fail(err, text, "unterminated hole", dollar + 1, rest > 20 ? 20 : rest);
      break;
    }
    size_t nlen = (size_t)(close - (dollar + 1));
    p = close + 1;
    if (nlen == 0) {
      cpf_buf_append(out, "$", 1);
      continue;
    }
    size_t k = 0;
    while (k < count && (strlen(vars[k].name) != nlen || memcmp(vars[k].name, dollar + 1, nlen))) {
      k++;
    }
    if (k == count) {
      ok = fail(err, text, "unknown variable", dollar + 1, nlen);
      break;
    }
    vars[k].used = true;
    cpf_buf_puts(out, vars[k].value);
  }
  for (size_t k = 0; ok && k < count; k++) {
    if (!vars[k].used) ok = fail(err, text, "unused variable", vars[k].name, strlen(vars[k].name));
  }
  if (!ok) {
    out->size = start;
    if (out->data) out->data[start] = '\0';
  }
  return ok;
}

bool cpr_print(cpf_buf *out, char **err, const char *text, ...) {
  va_list ap;
  va_start(ap, text);
  bool ok = cpr_vprint(out, err, text, ap);
  va_end(ap);
  return ok;
}
