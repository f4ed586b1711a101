// Parsing of the plugin parameter string against a table of known keys.
#include "framework/params.h"

#include <stdlib.h>
#include <string.h>

#include "framework/buf.h"

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

static char *known_keys(const cpf_param_spec *specs, int count) {
  cpf_buf b = {0};
  for (int i = 0; i < count; i++) cpf_buf_printf(&b, "%s%s", i ? ", " : "", specs[i].key);
  return cpf_buf_take(&b);
}

char *cpf_params_parse(const char *text, const cpf_param_spec *specs, int count) {
  const char *p = text ? text : "";
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char *item = cpf_xmalloc(len + 1);
    memcpy(item, p, len);
    item[len] = '\0';
    p += len + (end ? 1 : 0);
    if (len == 0) {
      free(item);
      continue;
    }
    char *eq = strchr(item, '=');
    const char *value = NULL;
    if (eq) {
      *eq = '\0';
      value = eq + 1;
    }
    const cpf_param_spec *spec = NULL;
    for (int i = 0; i < count; i++) {
      if (strcmp(specs[i].key, item) == 0) spec = &specs[i];
    }
    char *err = NULL;
    if (spec == NULL) {
      char *keys = known_keys(specs, count);
      err = cpf_xasprintf("unknown parameter \"%s\" (known parameters: %s)", item, keys);
      free(keys);
    } else if (spec->kind == CPF_PARAM_BOOL) {
      bool v = false;
      if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        v = true;
      } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0) {
        v = false;
      } else {
        err = cpf_xasprintf("parameter %s: expected true or false, got \"%s\"", item, value);
      }
      if (err == NULL) *(bool *)spec->dest = v;
    } else if (value == NULL || *value == '\0') {
      err = cpf_xasprintf("parameter %s needs a value (%s=...)", item, item);
    } else if (spec->kind == CPF_PARAM_IDENT && !is_ident(value)) {
      err = cpf_xasprintf("parameter %s: \"%s\" is not a C identifier", item, value);
    } else {
      char **dest = spec->dest;
      free(*dest);
      *dest = cpf_xstrdup(value);
    }
    free(item);
    if (err) return err;
  }
  return NULL;
}
