// The path templates of google.api.http (google/api/http.proto):
//
//   Template  = "/" Segments [ Verb ] ;
//   Segments  = Segment { "/" Segment } ;
//   Segment   = "*" | "**" | LITERAL | Variable ;
//   Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb      = ":" LITERAL ;
//
// One parser for both of its readers: protoc-gen-cpay, which reports a
// template that does not parse at its file:line:col, and the HTTP listener,
// which matches requests against the parsed form. So this file uses only
// the C library (the plugin does not link libcpay): results are malloc'ed.
#ifndef CPAY_SRC_HTTP_TEMPLATE_H_
#define CPAY_SRC_HTTP_TEMPLATE_H_

#include <stdbool.h>
#include <stddef.h>

typedef enum cpay__tpl_kind {
  CPAY__TPL_LITERAL = 0,   // matches one path segment equal to `text`
  CPAY__TPL_STAR = 1,      // "*": matches one segment
  CPAY__TPL_STARSTAR = 2,  // "**": matches the rest of the path (zero or more segments)
} cpay__tpl_kind;

typedef struct cpay__tpl_seg {
  cpay__tpl_kind kind;
  int var;           // the variable the segment belongs to, or -1
  // Into the template text (not NUL-terminated): the literal, or the "*"
  // or "**"; NULL for the "*" implied by "{name}".
  const char *text;
  size_t len;
} cpay__tpl_seg;

// A variable: the request field it sets and the segments whose text it
// takes ("{name}" alone is "{name=*}").
typedef struct cpay__tpl_var {
  const char *field;  // "name", "shelf.id": into the template text
  size_t len;
  size_t first;  // its segments: segs[first .. first + count)
  size_t count;
} cpay__tpl_var;

typedef struct cpay__tpl {
  cpay__tpl_seg *segs;
  size_t seg_count;
  cpay__tpl_var *vars;
  size_t var_count;
  const char *verb;  // after ':', into the template text; NULL when none
  size_t verb_len;
} cpay__tpl;

typedef struct cpay__tpl_error {
  size_t offset;  // the byte of the template the error is at
  char msg[112];  // "'**' must be the last segment"
} cpay__tpl_error;

// Parses the NUL-terminated `text`, which must outlive *out. False, with
// *err set and *out empty, when it does not follow the grammar above, has
// "**" before the last segment, nests variables, names a field twice or
// runs out of memory. Free the result with cpay__tpl_free.
bool cpay__tpl_parse(const char *text, cpay__tpl *out, cpay__tpl_error *err);

void cpay__tpl_free(cpay__tpl *t);

#endif  // CPAY_SRC_HTTP_TEMPLATE_H_
