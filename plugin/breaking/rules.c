// The rule table (IDs are stable: CI configurations and docs name them) and
// the output of findings as text, JSON lines or GitHub Actions annotations.
#include "breaking/breaking.h"

#include <stdlib.h>
#include <string.h>

#define W CPB_CAT_WIRE
#define J CPB_CAT_WIRE_JSON
#define A CPB_CAT_ALL

const cpb_rule cpb_rules[] = {
    {"FILE_DELETED", A, false, "a file was deleted"},
    {"FILE_PACKAGE_CHANGED", W, false, "a file's package changed (type names, Any URLs and RPC paths change)"},
    {"FILE_SYNTAX_CHANGED", W, true, "a file moved between proto2, proto3 and editions and some of its elements resolve features differently (each is reported by its own rule)"},
    {"MESSAGE_DELETED", A, false, "a message was deleted"},
    {"MESSAGE_RENAMED", A, false, "a message was renamed (same fields); wire-safe, but Any type URLs and reflection change"},
    {"MESSAGE_MOVED", A, false, "a message moved to another file"},
    {"MESSAGE_SET_CHANGED", W, false, "message_set_wire_format was turned on or off"},
    {"JSON_FORMAT_WEAKENED", J, false, "a message or enum changed json_format from ALLOW to LEGACY_BEST_EFFORT (JSON name conflicts are no longer rejected)"},
    {"JSON_FORMAT_STRENGTHENED", J, true, "a message or enum changed json_format from LEGACY_BEST_EFFORT to ALLOW (safe: the encodings are unchanged)"},
    {"EXTENSION_RANGE_REMOVED", W, false, "an extension range was removed or shrunk"},
    {"RESERVED_RANGE_REMOVED", W, false, "a reserved number range of a message was removed or shrunk"},
    {"RESERVED_NAME_REMOVED", J, false, "a reserved field name was removed"},
    {"ONEOF_DELETED", A, false, "a oneof was deleted"},
    {"ONEOF_RENAMED", A, false, "a oneof was renamed, its members the same (names are in neither encoding)"},
    {"FIELD_DELETED", W, false, "a field was deleted without reserving its number"},
    {"FIELD_REQUIRED_ADDED", W, false, "a required field was added (readers reject what old writers send)"},
    {"FIELD_REQUIRED_DELETED", W, false, "a required field was deleted (old readers reject what new writers send)"},
    {"FIELD_DELETED_NAME_NOT_RESERVED", J, false, "a field was deleted, its number reserved but not its name"},
    {"FIELD_NUMBER_REUSED", W, false, "a field uses a number that was reserved or meant another field"},
    {"FIELD_NAME_REUSED", J, false, "a field uses a name that was reserved or belonged to another number"},
    {"FIELD_RENUMBERED", W, false, "a field kept its name and changed its number"},
    {"FIELD_RENAMED", J, false, "a field number got a new name (breaks JSON and text format)"},
    {"FIELD_JSON_NAME_CHANGED", J, false, "a field's JSON name changed"},
    {"FIELD_TYPE_CHANGED", W, false, "a field's type changed to a wire-incompatible one, or to an unrelated enum"},
    {"FIELD_TYPE_WIRE_COMPATIBLE", W, true, "a field's type changed within a wire-compatible group"},
    {"FIELD_JSON_TYPE_CHANGED", J, false, "a wire-compatible type change that changes the JSON encoding"},
    {"FIELD_LABEL_CHANGED", W, false, "a scalar field changed between singular and repeated"},
    {"FIELD_LABEL_JSON_CHANGED", J, false, "a string/bytes/message field changed between singular and repeated"},
    {"FIELD_REQUIRED_CHANGED", W, false, "a field became required or stopped being required"},
    {"FIELD_PRESENCE_LOST", W, false, "a field went from explicit to implicit presence (field_presence EXPLICIT to IMPLICIT): zero values are no longer written"},
    {"FIELD_PRESENCE_CHANGED", A, false, "a field went from implicit to explicit presence (field_presence IMPLICIT to EXPLICIT): has_ accessors appear; wire-compatible"},
    {"FIELD_PACKED_CHANGED", W, true, "a repeated field switched between packed and expanded encoding (repeated_field_encoding); parsers accept both"},
    {"FIELD_UTF8_VALIDATION_CHANGED", W, false, "a string field's utf8_validation changed between VERIFY and NONE (readers reject what writers of the other kind may send)"},
    {"FIELD_MESSAGE_ENCODING_CHANGED", W, false, "a message field changed between length-prefixed and delimited (group) encoding (message_encoding)"},
    {"FIELD_ONEOF_CHANGED", W, false, "a field moved into, out of or between oneofs"},
    {"FIELD_MOVED_INTO_NEW_ONEOF", W, true, "a single field moved into a new oneof (safe)"},
    {"FIELD_MOVED_OUT_OF_SOLE_ONEOF", W, true, "the only member of a oneof moved out of it (safe)"},
    {"FIELD_DEFAULT_CHANGED", W, false, "a field's default value changed or was added (the same bytes read differently)"},
    {"MAP_KEY_TYPE_CHANGED", W, false, "a map's key type changed"},
    {"MAP_VALUE_TYPE_CHANGED", W, false, "a map's value type changed"},
    {"MAP_REPEATED_CHANGED", J, false, "a map became a repeated entry message or back (wire-safe, JSON differs)"},
    {"ENUM_DELETED", A, false, "an enum was deleted"},
    {"ENUM_RENAMED", A, false, "an enum was renamed (same values); wire-safe, but reflection and generated code use the full name"},
    {"ENUM_MOVED", A, false, "an enum moved to another file"},
    {"ENUM_OPENNESS_CHANGED", W, false, "an enum changed between closed and open (enum_type; proto2 enums are closed, proto3 enums open)"},
    {"ENUM_RESERVED_RANGE_REMOVED", W, false, "a reserved number range of an enum was removed or shrunk"},
    {"ENUM_RESERVED_NAME_REMOVED", J, false, "a reserved enum value name was removed"},
    {"ENUM_VALUE_DELETED", W, false, "an enum value was deleted without reserving its number"},
    {"ENUM_VALUE_DELETED_NAME_NOT_RESERVED", J, false, "an enum value was deleted, its number reserved but not its name"},
    {"ENUM_VALUE_RENUMBERED", W, false, "an enum value kept its name and changed its number"},
    {"ENUM_VALUE_RENAMED", J, false, "an enum number got a new name (JSON uses names)"},
    {"ENUM_VALUE_NUMBER_REUSED", W, false, "an enum value uses a number that was reserved or meant another value"},
    {"ENUM_VALUE_NAME_REUSED", J, false, "an enum value uses a name that was reserved or had another number"},
    {"EXTENSION_DELETED", W, false, "an extension was deleted (its number can be given to another)"},
    {"EXTENSION_NUMBER_CHANGED", W, false, "an extension's number changed"},
    {"EXTENSION_NUMBER_REUSED", W, false, "an extension number of an extendee now means another extension"},
    {"EXTENSION_TYPE_CHANGED", W, false, "an extension's type changed to a wire-incompatible one"},
    {"EXTENSION_LABEL_CHANGED", W, false, "an extension changed between singular and repeated"},
    {"EXTENSION_EXTENDEE_CHANGED", W, false, "an extension now extends another message"},
    {"SERVICE_DELETED", W, false, "a service was deleted (all its method paths are gone)"},
    {"RPC_DELETED", W, false, "an RPC was deleted (its method path is gone)"},
    {"RPC_RENAMED", W, false, "an RPC was renamed (its old method path is gone)"},
    {"RPC_REQUEST_TYPE_CHANGED", W, false, "an RPC's request type changed"},
    {"RPC_RESPONSE_TYPE_CHANGED", W, false, "an RPC's response type changed"},
    {"RPC_STREAMING_CHANGED", W, false, "an RPC's streaming mode changed"},
    {"RPC_IDEMPOTENCY_WEAKENED", W, false, "an RPC's idempotency_level was lowered (clients may retry or GET it)"},
    {"RPC_IDEMPOTENCY_STRENGTHENED", W, true, "an RPC's idempotency_level was raised (safe for clients)"},
};
const size_t cpb_rule_count = sizeof cpb_rules / sizeof cpb_rules[0];

#undef W
#undef J
#undef A

const char *cpb_category_name(cpb_category c) {
  switch (c) {
    case CPB_CAT_WIRE: return "wire";
    case CPB_CAT_WIRE_JSON: return "wire-json";
    case CPB_CAT_ALL: return "all";
  }
  return "?";
}

static int cmp_finding(const void *a, const void *b) {
  const cpb_finding *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  if (c) return c;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->col != y->col) return x->col < y->col ? -1 : 1;
  c = strcmp(x->rule->id, y->rule->id);
  if (c) return c;
  return strcmp(x->subject, y->subject);
}

void cpb_findings_sort(cpb_findings *f) {
  if (f->count) qsort(f->v, f->count, sizeof *f->v, cmp_finding);
}

size_t cpb_findings_errors(const cpb_findings *f) {
  size_t n = 0;
  for (size_t i = 0; i < f->count; i++) n += !f->v[i].rule->note && !f->v[i].accepted;
  return n;
}

static void put_json_string(cps_buf *out, const char *s) {
  cps_buf_puts(out, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      cps_buf_printf(out, "\\%c", *p);
    } else if (*p == '\n') {
      cps_buf_puts(out, "\\n");
    } else if (*p < 0x20) {
      cps_buf_printf(out, "\\u%04x", *p);
    } else {
      cps_buf_append(out, (const char *)p, 1);
    }
  }
  cps_buf_puts(out, "\"");
}

// GitHub workflow commands: data escapes %, CR, LF; properties also : and ,.
static void put_gh(cps_buf *out, const char *s, bool property) {
  for (const char *p = s; *p; p++) {
    switch (*p) {
      case '%': cps_buf_puts(out, "%25"); break;
      case '\r': cps_buf_puts(out, "%0D"); break;
      case '\n': cps_buf_puts(out, "%0A"); break;
      case ':': cps_buf_puts(out, property ? "%3A" : ":"); break;
      case ',': cps_buf_puts(out, property ? "%2C" : ","); break;
      default: cps_buf_append(out, p, 1);
    }
  }
}

static void put_pos(cps_buf *out, const cpb_finding *f) {
  if (f->line > 0) {
    cps_buf_printf(out, "%s:%d:%d: ", f->file, f->line, f->col);
  } else {
    cps_buf_printf(out, "%s: ", f->file);
  }
}

// XML text or attribute content: markup escaped, control bytes XML 1.0 does
// not allow replaced.
static void put_xml(cps_buf *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '&': cps_buf_puts(out, "&amp;"); break;
      case '<': cps_buf_puts(out, "&lt;"); break;
      case '>': cps_buf_puts(out, "&gt;"); break;
      case '"': cps_buf_puts(out, "&quot;"); break;
      case '\n': cps_buf_puts(out, "&#10;"); break;
      default:
        if (*p < 0x20 && *p != '\t') {
          cps_buf_puts(out, "?");
        } else {
          cps_buf_append(out, (const char *)p, 1);
        }
    }
  }
}

// JUnit XML (as CI systems read test reports): a test suite per file, a test
// case per finding (a failure for a break; notes pass, their text as
// output); no finding at all is one passing case, so that a report exists.
static void print_junit(const cpb_findings *fs, cps_buf *out) {
  size_t failures = cpb_findings_errors(fs);
  size_t tests = fs->count ? fs->count : 1;
  cps_buf_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<testsuites name=\"cpay-breaking\" tests=\"%zu\" failures=\"%zu\">\n",
                 tests, failures);
  if (fs->count == 0) {
    cps_buf_puts(out, "  <testsuite name=\"cpay-breaking\" tests=\"1\" failures=\"0\">\n"
                      "    <testcase classname=\"cpay-breaking\" name=\"compatible\"/>\n"
                      "  </testsuite>\n");
  }
  for (size_t i = 0; i < fs->count;) {
    size_t end = i;
    size_t fail = 0;
    while (end < fs->count && strcmp(fs->v[end].file, fs->v[i].file) == 0) {
      fail += !fs->v[end].rule->note && !fs->v[end].accepted;
      end++;
    }
    cps_buf_puts(out, "  <testsuite name=\"");
    put_xml(out, fs->v[i].file);
    cps_buf_printf(out, "\" tests=\"%zu\" failures=\"%zu\">\n", end - i, fail);
    for (size_t k = i; k < end; k++) {
      const cpb_finding *f = &fs->v[k];
      cps_buf pos = {0};
      put_pos(&pos, f);
      pos.size -= 2;  // without ": "
      pos.data[pos.size] = '\0';
      cps_buf_puts(out, "    <testcase classname=\"");
      put_xml(out, f->file);
      cps_buf_printf(out, "\" name=\"%s ", f->rule->id);
      put_xml(out, f->subject);
      cps_buf_puts(out, "\">\n");
      bool breaking = !f->rule->note && !f->accepted;
      cps_buf_printf(out, "      <%s", breaking ? "failure" : "system-out");
      if (breaking) {
        cps_buf_printf(out, " type=\"%s\" message=\"", f->rule->id);
        put_xml(out, f->message);
        cps_buf_puts(out, "\"");
      }
      cps_buf_puts(out, ">");
      put_xml(out, cps_buf_str(&pos));
      cps_buf_printf(out, ": %s: [%s] ", breaking ? "error" : "note", f->rule->id);
      put_xml(out, f->message);
      if (f->accepted) {
        cps_buf_puts(out, " (accepted: recorded in ");
        put_xml(out, f->accepted);
        cps_buf_puts(out, ")");
      }
      if (f->fix) {
        cps_buf_puts(out, "&#10;fix: ");
        put_xml(out, f->fix);
      }
      cps_buf_printf(out, "</%s>\n    </testcase>\n", breaking ? "failure" : "system-out");
      cps_buf_free(&pos);
    }
    cps_buf_puts(out, "  </testsuite>\n");
    i = end;
  }
  cps_buf_puts(out, "</testsuites>\n");
}

void cpb_findings_print(const cpb_findings *fs, cpb_format fmt, cps_buf *out) {
  if (fmt == CPB_FMT_JUNIT) {
    print_junit(fs, out);
    return;
  }
  for (size_t i = 0; i < fs->count; i++) {
    const cpb_finding *f = &fs->v[i];
    bool breaking = !f->rule->note && !f->accepted;
    switch (fmt) {
      case CPB_FMT_TEXT:
        put_pos(out, f);
        cps_buf_printf(out, "%s: [%s] %s", breaking ? "error" : "note", f->rule->id, f->message);
        if (f->accepted) cps_buf_printf(out, " (accepted: recorded in %s)", f->accepted);
        cps_buf_puts(out, "\n");
        if (f->fix) {
          // One note line per fix line, each at the same position.
          const char *p = f->fix;
          while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            put_pos(out, f);
            cps_buf_printf(out, "note: %.*s\n", (int)len, p);
            p += len + (nl != NULL);
          }
        }
        break;
      case CPB_FMT_JSON:
        cps_buf_puts(out, "{\"rule\":");
        put_json_string(out, f->rule->id);
        cps_buf_printf(out, ",\"category\":\"%s\",\"severity\":\"%s\",\"breaking\":%s,\"path\":",
                       cpb_category_name(f->rule->category), breaking ? "error" : "note",
                       breaking ? "true" : "false");
        put_json_string(out, f->file);
        cps_buf_printf(out, ",\"line\":%d,\"column\":%d,\"message\":", f->line, f->col);
        put_json_string(out, f->message);
        cps_buf_puts(out, ",\"fix\":");
        if (f->fix) {
          put_json_string(out, f->fix);
        } else {
          cps_buf_puts(out, "null");
        }
        cps_buf_puts(out, ",\"accepted_in\":");
        if (f->accepted) {
          put_json_string(out, f->accepted);
        } else {
          cps_buf_puts(out, "null");
        }
        cps_buf_puts(out, "}\n");
        break;
      case CPB_FMT_GITHUB:
        cps_buf_printf(out, "::%s file=", breaking ? "error" : "notice");
        put_gh(out, f->file, true);
        if (f->line > 0) cps_buf_printf(out, ",line=%d,col=%d", f->line, f->col);
        cps_buf_puts(out, ",title=");
        put_gh(out, f->rule->id, true);
        cps_buf_puts(out, "::");
        put_gh(out, f->message, false);
        if (f->accepted) {
          put_gh(out, " (accepted: recorded in ", false);
          put_gh(out, f->accepted, false);
          put_gh(out, ")", false);
        }
        if (f->fix) {
          put_gh(out, "\n", false);
          put_gh(out, f->fix, false);
        }
        cps_buf_puts(out, "\n");
        break;
      case CPB_FMT_JUNIT: break;  // above
    }
  }
}
